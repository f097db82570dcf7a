//! Telecom carriers (domain.md §4.3, api.md §11).

use crate::domain::stamp::Stamped;
use serde::Deserialize;

use super::org::{check_version, soft_delete_tx, stamp, version_conflict, OrgError};
use crate::domain::caller::{Caller, ANY_ADMIN, SA_PL};
use crate::domain::entities::{Carrier, RealnameLinkType};
use crate::domain::org::Status;
use crate::domain::validate::{self, filter_term, Invalid};
use crate::paging::{CursorPage, PageQuery};
use crate::store::keys::{self, gsi1};
use crate::store::lists::{self, Filter};
use crate::store::org::{carrier_item, unique_item};
use crate::store::tally::{self, Counted, Tallied, Tally};
use crate::store::tx::{Cond, Tx};
use crate::store::Store;

/// Uniqueness-item kind of `carrier_code`.
const CODE_KIND: &str = "carrier_code";
/// Longest `carrier_name`.
const NAME_MAX: usize = 50;
/// Longest `carrier_type`.
const TYPE_MAX: usize = 20;
/// Longest `realname_link_template`.
const TEMPLATE_MAX: usize = 500;
/// Placeholders a real-name link template may use.
pub const TEMPLATE_PLACEHOLDERS: [&str; 3] = ["iccid", "msisdn", "virtual_no"];

/// `POST /api/admin/carriers` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateCarrier {
    pub carrier_name: String,
    pub carrier_type: String,
    /// Optional; unique among live carriers when given.
    pub carrier_code: Option<String>,
    /// 1–31, default 1.
    pub billing_day: Option<i64>,
    /// Default `none`.
    pub realname_link_type: Option<RealnameLinkType>,
    /// Required when `realname_link_type` is `template`.
    pub realname_link_template: Option<String>,
    /// Default enabled.
    pub status: Option<Status>,
}

/// `PUT /api/admin/carriers/:id` body: absent fields are kept; an empty
/// `carrier_code` or `realname_link_template` clears it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct UpdateCarrier {
    pub carrier_name: Option<String>,
    pub carrier_type: Option<String>,
    pub carrier_code: Option<String>,
    pub billing_day: Option<i64>,
    pub realname_link_type: Option<RealnameLinkType>,
    pub realname_link_template: Option<String>,
    pub status: Option<Status>,
    /// Optimistic lock: refused with `1007` unless it is the current version.
    pub version: Option<i64>,
}

/// List filters of `GET /api/admin/carriers`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CarrierFilter {
    /// Substring of the name.
    pub carrier_name: Option<String>,
    /// Exact type.
    pub carrier_type: Option<String>,
    pub status: Option<i64>,
}

async fn live_carrier(store: &Store, id: u64) -> Result<Carrier, OrgError> {
    store
        .live_entity(&keys::carrier(id))
        .await?
        .ok_or(OrgError::NotFound("carrier"))
}

/// An optional carrier code; empty counts as absent.
fn opt_code(value: Option<&str>) -> Result<Option<String>, Invalid> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => validate::code("carrier_code", v).map(Some),
    }
}

/// The billing day a carrier type starts its usage month on when none is given:
/// China Unicom (`CUCC`, `UNICOM`, `联通`) on the 27th, every other carrier on the
/// 1st (domain.md §4.3).
pub fn default_billing_day(carrier_type: &str) -> i64 {
    let t = carrier_type.trim();
    let unicom = ["CUCC", "UNICOM", "CHINA UNICOM"]
        .iter()
        .any(|name| t.eq_ignore_ascii_case(name))
        || t.contains("联通");
    if unicom {
        27
    } else {
        1
    }
}

fn billing_day(day: i64) -> Result<u8, Invalid> {
    u8::try_from(day)
        .ok()
        .filter(|d| (1..=31).contains(d))
        .ok_or_else(|| Invalid::new("billing_day须为1-31", "billing_day must be 1-31"))
}

/// Checks a template's length and that every `{placeholder}` is a known one.
fn check_template(template: &str) -> Result<(), Invalid> {
    let bad = || {
        let names = TEMPLATE_PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ");
        Invalid::new(
            format!("realname_link_template只能使用占位符 {names}"),
            format!("realname_link_template may only use the placeholders {names}"),
        )
    };
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(bad());
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(bad)?;
        if !TEMPLATE_PLACEHOLDERS.contains(&&after[..close]) {
            return Err(bad());
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// A template from a request: trimmed, at most 500 characters, known placeholders.
fn opt_template(value: Option<&str>) -> Result<Option<String>, Invalid> {
    let t = validate::opt_text("realname_link_template", value, TEMPLATE_MAX)?;
    if let Some(t) = &t {
        check_template(t)?;
    }
    Ok(t)
}

/// The rule over the resulting state: a `template` link needs a template.
fn check_link(c: &Carrier) -> Result<(), Invalid> {
    if c.realname_link_type == RealnameLinkType::Template && c.realname_link_template.is_none() {
        return Err(Invalid::new(
            "realname_link_type为template时必须填写realname_link_template",
            "realname_link_template is required when realname_link_type is template",
        ));
    }
    Ok(())
}

/// Creates a carrier; its code, when given, must be unused by live carriers.
pub async fn create_carrier(
    store: &Store,
    caller: &Caller,
    now: i64,
    req: CreateCarrier,
) -> Result<Carrier, OrgError> {
    caller.require(SA_PL)?;
    let carrier_name = validate::text("carrier_name", &req.carrier_name, NAME_MAX)?;
    let carrier_type = validate::text("carrier_type", &req.carrier_type, TYPE_MAX)?;
    let carrier_code = opt_code(req.carrier_code.as_deref())?;
    let billing_day = billing_day(
        req.billing_day
            .unwrap_or_else(|| default_billing_day(&carrier_type)),
    )?;
    let realname_link_template = opt_template(req.realname_link_template.as_deref())?;
    let mut carrier = Carrier {
        id: 0,
        carrier_name,
        carrier_type,
        carrier_code,
        billing_day,
        realname_link_type: req.realname_link_type.unwrap_or(RealnameLinkType::None),
        realname_link_template,
        status: req.status.unwrap_or(Status::Enabled),
        created_at: stamp(now),
        updated_at: stamp(now),
        deleted_at: None,
        creator: caller.account_id,
        updater: caller.account_id,
        version: 1,
    };
    check_link(&carrier)?;
    carrier.id = store.next_id("carrier").await?;
    let mut tx = Tx::new().put_new("carrier", carrier_item(&carrier)?);
    if let Some(code) = &carrier.carrier_code {
        tx = tx.put_new("carrier_code", unique_item(CODE_KIND, code, carrier.id));
    }
    let tx = tally::count(tx, None, &[(Counted::Carriers, 1)]);
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("carrier_code") => OrgError::DuplicateCarrierCode,
            _ => e.into(),
        })?;
    Ok(carrier)
}

/// One page of the live carriers matching `f`, by id (every admin may read them):
/// one Query (two when a filter drops items) and, unfiltered, the carrier count.
pub async fn list_carriers(
    store: &Store,
    caller: &Caller,
    f: &CarrierFilter,
    page: &PageQuery,
) -> Result<CursorPage<Carrier>, OrgError> {
    caller.require(ANY_ADMIN)?;
    let (cursor, size) = page.parse()?;
    let filter = Filter::new()
        .contains("carrier_name", filter_term(f.carrier_name.as_deref()))
        .eq_str("carrier_type", filter_term(f.carrier_type.as_deref()))
        .eq("status", f.status);
    let source = lists::scope(gsi1::CARRIERS, "");
    let carriers = store
        .read_page(&source, filter.cond(), size, cursor, |_: &Carrier| true)
        .await?;
    let total = match filter.cond() {
        None => Some(
            store
                .tally(&Tally::of(Tallied::Platform, Counted::Carriers))
                .await?,
        ),
        Some(_) => None,
    };
    Ok(carriers.with_total(total))
}

/// One carrier.
pub async fn get_carrier(store: &Store, caller: &Caller, id: u64) -> Result<Carrier, OrgError> {
    caller.require(ANY_ADMIN)?;
    live_carrier(store, id).await
}

/// Partially updates a carrier; the link rule is checked on the resulting state.
pub async fn update_carrier(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    req: UpdateCarrier,
) -> Result<Carrier, OrgError> {
    caller.require(SA_PL)?;
    let old = live_carrier(store, id).await?;
    check_version(req.version, old.version)?;
    let mut c = old.clone();
    if let Some(n) = &req.carrier_name {
        c.carrier_name = validate::text("carrier_name", n, NAME_MAX)?;
    }
    if let Some(t) = &req.carrier_type {
        c.carrier_type = validate::text("carrier_type", t, TYPE_MAX)?;
    }
    if let Some(code) = &req.carrier_code {
        c.carrier_code = opt_code(Some(code))?;
    }
    if let Some(d) = req.billing_day {
        c.billing_day = billing_day(d)?;
    }
    if let Some(t) = req.realname_link_type {
        c.realname_link_type = t;
    }
    if let Some(t) = &req.realname_link_template {
        c.realname_link_template = opt_template(Some(t))?;
    }
    if let Some(s) = req.status {
        c.status = s;
    }
    check_link(&c)?;
    save_carrier(store, caller, now, &old, c).await
}

/// Enables or disables a carrier.
pub async fn set_carrier_status(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
    status: Status,
) -> Result<Carrier, OrgError> {
    caller.require(SA_PL)?;
    let old = live_carrier(store, id).await?;
    let mut c = old.clone();
    c.status = status;
    save_carrier(store, caller, now, &old, c).await
}

/// Writes the new state of a carrier read as `old` (see [`super::org::save`]); a
/// changed code releases the old uniqueness item and claims the new one, either of
/// which may be absent (`Rename` covers only value → value).
async fn save_carrier(
    store: &Store,
    caller: &Caller,
    now: i64,
    old: &Carrier,
    mut c: Carrier,
) -> Result<Carrier, OrgError> {
    c.touch(caller.account_id, now);
    let mut tx = Tx::new().put(
        "entity",
        carrier_item(&c)?,
        Some(Cond::live().and(Cond::version(old.version))),
    );
    if old.carrier_code != c.carrier_code {
        if let Some(code) = &old.carrier_code {
            tx = tx.delete("old_unique", &keys::unique(CODE_KIND, code), None);
        }
        if let Some(code) = &c.carrier_code {
            tx = tx.put_new("unique", unique_item(CODE_KIND, code, c.id));
        }
    }
    store
        .transact(tx)
        .await
        .map_err(|e| match e.failed_label() {
            Some("unique") => OrgError::DuplicateCarrierCode,
            _ => version_conflict(e),
        })?;
    Ok(c)
}

/// Soft-deletes a carrier, freeing its code.
pub async fn delete_carrier(
    store: &Store,
    caller: &Caller,
    now: i64,
    id: u64,
) -> Result<(), OrgError> {
    caller.require(SA_PL)?;
    let old = live_carrier(store, id).await?;
    let mut c = old.clone();
    c.touch(caller.account_id, now);
    let release: Vec<_> = old
        .carrier_code
        .iter()
        .map(|code| keys::unique(CODE_KIND, code))
        .collect();
    let tx = soft_delete_tx(carrier_item(&c)?, old.version, now, None, &release);
    let tx = tally::count(tx, None, &[(Counted::Carriers, -1)]);
    store.transact(tx).await.map_err(version_conflict)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        for ok in [
            "https://rn.example.com/verify?iccid={iccid}",
            "https://x/?m={msisdn}&v={virtual_no}&i={iccid}",
            "no placeholders at all",
            "",
        ] {
            assert!(check_template(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://x/?imei={imei}",
            "https://x/?i={iccid",
            "https://x/?i=iccid}",
            "{}",
            "{ICCID}",
            "{{iccid}}",
        ] {
            let e = check_template(bad).expect_err(bad);
            assert!(
                e.to_string().contains("realname_link_template"),
                "{bad}: {e}"
            );
        }
        assert!(opt_template(Some(&"a".repeat(501))).is_err());
        assert_eq!(opt_template(Some("  ")).unwrap(), None);
    }

    #[test]
    fn billing_day_defaults_by_carrier_type() {
        for (carrier_type, day) in [
            ("CUCC", 27),
            ("cucc", 27),
            (" Unicom ", 27),
            ("中国联通", 27),
            ("联通", 27),
            ("CMCC", 1),
            ("CTCC", 1),
            ("CBN", 1),
            ("中国移动", 1),
        ] {
            assert_eq!(default_billing_day(carrier_type), day, "{carrier_type}");
        }
    }

    #[test]
    fn billing_days() {
        assert_eq!(billing_day(1).unwrap(), 1);
        assert_eq!(billing_day(27).unwrap(), 27);
        assert_eq!(billing_day(31).unwrap(), 31);
        for bad in [0, 32, -1, 256, i64::MAX] {
            assert!(billing_day(bad).is_err(), "{bad}");
        }
    }
}
