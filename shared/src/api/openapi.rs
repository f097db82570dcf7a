//! The OpenAPI 3.1 document of every route, generated from the handlers'
//! `#[utoipa::path]` annotations and the types' `ToSchema` derives, and completed
//! from the access table ([`access::ROUTES`]): who may call a route decides its
//! security requirement, and the business codes it can answer (its own, named in the
//! `x-codes` extension of its annotation, plus those every route of its kind can
//! answer) become its error responses, grouped by HTTP status. Every write of a
//! signed-in caller takes the optional `Idempotency-Key` header (`api::idempotency`),
//! with its codes and the `Idempotent-Replayed` response header.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::json;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::Link;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::access::{self, Access};
use super::idempotency;
use crate::codes::{Code, Lang};

/// Name of the bearer JWT security scheme.
pub const BEARER: &str = "bearer";
/// Extension of an operation listing the business codes it can answer.
pub const X_CODES: &str = "x-codes";

/// Extension marking an operation that answers in another party's format (the
/// payment providers' callbacks), not in the envelope: it gets no envelope error
/// responses.
pub const X_PROVIDER_FORMAT: &str = "x-provider-format";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "CMP admin API",
        description = "IoT connectivity management platform. Every response is the envelope \
            `{code, msg, data, timestamp}`: `code` 0 is success, any other is a business \
            code whose HTTP status the error responses list. Lists page with `page_size` \
            and `cursor` (`next_cursor` of the previous page).",
        license(name = "Apache-2.0")
    ),
    paths(
        super::health::health,
        super::health::openapi_json,
        super::health::docs_page,
    ),
    tags(
        (name = "health", description = "Liveness and this document"),
        (name = "admin-auth", description = "Login, tokens, who-am-I, own password"),
        (name = "admin-accounts", description = "Platform, agent and enterprise accounts"),
        (name = "admin-roles", description = "Roles and the permission catalogue"),
        (name = "admin-shops", description = "The agent shop tree (up to 7 levels)"),
        (name = "admin-enterprises", description = "Enterprise customers"),
        (name = "admin-carriers", description = "Telecom carriers"),
        (name = "admin-iot-cards", description = "IoT cards: lists, changes, allocation, recall, CSV imports"),
        (name = "admin-devices", description = "Devices: lists, card slots, allocation, recall, CSV imports, remote commands"),
        (name = "admin-asset-allocations", description = "Allocation records and bulk allocation tasks"),
        (name = "admin-assets", description = "Any asset by identifier; live status and stop/start at the carrier"),
        (name = "admin-storage", description = "Presigned upload and download URLs"),
        (name = "admin-package-usage", description = "Package usages: daily consumption records"),
        (name = "admin-orders", description = "Package orders placed in the admin console: paid by wallet or offline and activated at once"),
        (name = "admin-package-series", description = "Package series and their commission tiers"),
        (name = "admin-packages", description = "Packages, prices along the shop chain, shelves"),
        (name = "admin-shop-series-grants", description = "Series grants down the shop tree"),
        (name = "admin-wallets", description = "Agent wallets and their ledger, scoped like the shop"),
        (name = "admin-agent-recharges", description = "Recharges of agents' main wallets; offline confirmation"),
        (name = "payment-callbacks", description = "Payment providers' notifications (WeChat Pay v3, Fuiou), answered in the providers' formats"),
        (name = "admin-wechat-configs", description = "Payment configurations (WeChat Pay direct or Fuiou), the single active one; the operation audit log"),
        (name = "admin-polling", description = "Carrier polling: configurations, concurrency limits, monitoring, alert rules, data cleanup, manual triggers"),
        (name = "admin-commissions", description = "Commissions and withdrawals: summaries, records, withdrawal requests and their review, settings, monthly statements, failed calculations"),
    )
)]
struct ApiDoc;

/// The document, built once per process.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Document {
    let mut doc = ApiDoc::openapi();
    for group in [
        super::admin_auth::Doc::openapi(),
        super::admin_accounts::Doc::openapi(),
        super::admin_roles::Doc::openapi(),
        super::admin_shops::Doc::openapi(),
        super::admin_enterprises::Doc::openapi(),
        super::admin_carriers::Doc::openapi(),
        super::admin_iot_cards::Doc::openapi(),
        super::admin_devices::Doc::openapi(),
        super::admin_asset_allocations::Doc::openapi(),
        super::admin_assets::Doc::openapi(),
        super::admin_storage::Doc::openapi(),
        super::admin_package_usage::Doc::openapi(),
        super::admin_orders::Doc::openapi(),
        super::admin_package_series::Doc::openapi(),
        super::admin_packages::Doc::openapi(),
        super::admin_shop_series_grants::Doc::openapi(),
        super::admin_wallets::Doc::openapi(),
        super::admin_agent_recharges::Doc::openapi(),
        super::admin_wechat_configs::Doc::openapi(),
        super::payment_callbacks::Doc::openapi(),
        super::admin_polling::Doc::openapi(),
        super::admin_commissions::Doc::openapi(),
    ] {
        doc.merge(group);
    }
    Completion.modify(&mut doc);
    doc
}

/// The document as JSON, built once per process.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut value = serde_json::to_value(document()).unwrap_or_default();
        camel_case_links(&mut value);
        value.to_string()
    })
}

/// utoipa 5 writes a link's fields in snake case (`operation_id`); OpenAPI names
/// them `operationId`, `operationRef`, `requestBody`.
fn camel_case_links(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let responses = paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses").and_then(|r| r.as_object_mut()))
        .flat_map(|r| r.values_mut());
    for response in responses {
        let Some(links) = response.get_mut("links").and_then(|l| l.as_object_mut()) else {
            continue;
        };
        for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
            for (snake, camel) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(v) = link.remove(snake) {
                    link.insert(camel.into(), v);
                }
            }
        }
    }
}

/// Every operation of the document: method (upper case) and path.
pub fn operations(doc: &Document) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        for (method, _) in operations_of(item) {
            ops.insert((method.to_string(), path.clone()));
        }
    }
    ops
}

fn operations_of(item: &PathItem) -> Vec<(&'static str, &Operation)> {
    [
        ("GET", &item.get),
        ("POST", &item.post),
        ("PUT", &item.put),
        ("PATCH", &item.patch),
        ("DELETE", &item.delete),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
    .collect()
}

/// Completes every operation from the access table: security, error responses and
/// `Idempotency-Key` on writes.
struct Completion;

impl Modify for Completion {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert(ERROR.into(), RefOr::T(error_schema().into()));
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The `access_token` of `POST /api/admin/login` (2 hours).",
                    ))
                    .build(),
            ),
        );
        let links = creation_links(doc);
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations_mut(item) {
                if let (Some(links), "POST") = (links.get(path), method) {
                    add_links(op, links);
                }
                let access = access::ROUTES
                    .iter()
                    .find(|(m, p, _)| *m == method && *p == path.as_str())
                    .map(|(_, _, a)| *a);
                let foreign = op
                    .extensions
                    .as_ref()
                    .is_some_and(|e| e.contains_key(X_PROVIDER_FORMAT));
                if !foreign {
                    complete(op, method, access, path.contains('{'));
                }
            }
        }
    }
}

/// For each collection path (`/api/admin/shops`), the operations on one of its
/// items (`/api/admin/shops/{id}` and below): the links of its creation.
fn creation_links(doc: &Document) -> BTreeMap<String, Vec<String>> {
    let mut links: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, item) in &doc.paths.paths {
        let Some((collection, rest)) = path.split_once("/{id}") else {
            continue;
        };
        if rest.contains('{') || !doc.paths.paths.contains_key(collection) {
            continue;
        }
        for (_, op) in operations_of(item) {
            if let Some(id) = &op.operation_id {
                links
                    .entry(collection.to_string())
                    .or_default()
                    .push(id.clone());
            }
        }
    }
    links
}

/// Links from a creation's answer (`data.id`) to the operations on the created item,
/// so stateful clients (and property-based testers) can follow them.
fn add_links(op: &mut Operation, targets: &[String]) {
    let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") else {
        return;
    };
    for target in targets {
        let link = Link::builder()
            .operation_id(target.clone())
            .parameter("id", "$response.body#/data/id")
            .description("The created item")
            .build();
        ok.links.insert(target.clone(), RefOr::T(link));
    }
}

fn operations_mut(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("GET", &mut item.get),
        ("POST", &mut item.post),
        ("PUT", &mut item.put),
        ("PATCH", &mut item.patch),
        ("DELETE", &mut item.delete),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_mut().map(|op| (m, op)))
    .collect()
}

/// The codes an operation can answer beyond its own: those of its access check,
/// its input, and the store.
fn common_codes(
    access: Option<Access>,
    has_body: bool,
    has_input: bool,
    has_path: bool,
) -> Vec<Code> {
    let mut codes = Vec::new();
    if has_body || has_input {
        codes.push(Code::INVALID_PARAM);
    }
    if has_body {
        codes.push(Code::PAYLOAD_TOO_LARGE);
    }
    // An id in the path, the query or the body may name nothing the caller sees.
    if has_path || has_body || has_input {
        codes.push(Code::NOT_FOUND);
    }
    let session = [
        Code::INVALID_TOKEN,
        Code::ACCOUNT_DISABLED,
        Code::SHOP_DISABLED,
        Code::ENTERPRISE_DISABLED,
        Code::BUSY,
        Code::INTERNAL,
        Code::DATABASE,
    ];
    match access {
        Some(Access::Public) => {}
        Some(Access::Session) => codes.extend(session),
        Some(Access::Code(_)) | None => {
            codes.extend(session);
            codes.push(Code::FORBIDDEN);
        }
    }
    codes
}

fn complete(op: &mut Operation, method: &str, access: Option<Access>, has_path: bool) {
    if access != Some(Access::Public) {
        op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    }
    let has_body = op.request_body.is_some();
    let has_input = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    // Writes of a signed-in caller take `Idempotency-Key` (`api::idempotency`).
    let keyed =
        access != Some(Access::Public) && method.parse().is_ok_and(|m| idempotency::is_write(&m));
    let mut codes: Vec<Code> = op
        .extensions
        .as_ref()
        .and_then(|e| e.get(X_CODES))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_u64())
                .map(|c| Code(c as u32))
                .collect()
        })
        .unwrap_or_default();
    codes.extend(common_codes(access, has_body, has_input, has_path));
    if keyed {
        codes.extend(idempotency::CODES);
        op.parameters
            .get_or_insert_with(Vec::new)
            .push(idempotency_key_parameter());
    }
    let mut by_status: BTreeMap<u16, BTreeSet<u32>> = BTreeMap::new();
    for code in &codes {
        by_status
            .entry(code.http_status().as_u16())
            .or_default()
            .insert(code.0);
    }
    codes.sort_by_key(|c| c.0);
    codes.dedup();
    let all: Vec<u32> = codes.iter().map(|c| c.0).collect();
    op.extensions
        .get_or_insert_with(Default::default)
        .insert(X_CODES.into(), json!(all));
    for (status, codes) in by_status {
        let description = codes
            .iter()
            .map(|c| format!("`{c}` {}", Code(*c).message(Lang::En)))
            .collect::<Vec<_>>()
            .join("; ");
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(error_envelope(&codes)))
                    .build(),
            )
            .build();
        op.responses
            .responses
            .insert(status.to_string(), RefOr::T(response));
    }
    if keyed {
        add_replayed_header(op);
    }
}

/// The optional `Idempotency-Key` request header of a write.
fn idempotency_key_parameter() -> Parameter {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(idempotency::MAX_KEY_LEN))
        .pattern(Some("^[!-~]+$"));
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Runs this write once per key and account for 24 hours: a repeat of the same \
             request (method, path, query, body bytes) answers the stored status and body \
             with `Idempotent-Replayed: true`; the key on a different request answers \
             `1008`/422, a repeat while the first runs `1009`/409. Successes and client \
             errors are stored (not `429` or `1056`); server errors are not, so a retry \
             runs again.",
        ))
        .schema(Some(schema))
        .build()
}

/// `Idempotent-Replayed: true` on the responses a replay can answer (successes and
/// client errors).
fn add_replayed_header(op: &mut Operation) {
    let header = HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["true"])),
        )
        .description(Some(
            "`true` when this is the stored response of an earlier request with the same \
             `Idempotency-Key`.",
        ))
        .build();
    for (status, response) in op.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with(['2', '4']), response) {
            response
                .headers
                .insert("Idempotent-Replayed".into(), header.clone());
        }
    }
}

/// Name of the error envelope's schema.
const ERROR: &str = "Error";

/// The envelope of every error: `data` is `null`.
fn error_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .description(Some("An error: a business code, a message in the request's language (`Accept-Language`), no data."))
        .property("code", ObjectBuilder::new().schema_type(Type::Integer))
        .property("msg", ObjectBuilder::new().schema_type(Type::String))
        .property("data", ObjectBuilder::new().schema_type(Type::Null))
        .property("timestamp", ObjectBuilder::new().schema_type(Type::String))
        .required("code")
        .required("msg")
        .required("data")
        .required("timestamp")
}

/// The envelope of an error answering one of `codes`.
fn error_envelope(codes: &BTreeSet<u32>) -> AllOfBuilder {
    AllOfBuilder::new().item(Ref::from_schema_name(ERROR)).item(
        ObjectBuilder::new().property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some(codes.iter().copied())),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_exactly_the_routes_of_the_access_table() {
        let documented = operations(document());
        let routed: BTreeSet<(String, String)> = access::ROUTES
            .iter()
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        let missing: Vec<_> = routed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routed).collect();
        assert!(missing.is_empty(), "routes the document lacks: {missing:?}");
        assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    }

    #[test]
    fn every_operation_is_named_tagged_and_answers_its_codes() {
        let mut ids = BTreeSet::new();
        for (path, item) in &document().paths.paths {
            for (method, op) in operations_of(item) {
                let id = op.operation_id.clone().unwrap_or_default();
                assert!(!id.is_empty(), "{method} {path} has no operation id");
                assert!(ids.insert(id.clone()), "operation id {id} used twice");
                let tag = op.tags.as_ref().filter(|t| t.len() == 1).map(|t| &t[0]);
                let declared = document().tags.iter().flatten().any(|t| {
                    Some(&t.name) == tag && t.description.as_ref().is_some_and(|d| !d.is_empty())
                });
                assert!(declared, "{id}: one tag, declared with a description");
                let responses = &op.responses.responses;
                assert!(
                    responses.contains_key("200") || responses.contains_key("202"),
                    "{id} has no success response"
                );
                let codes = op.extensions.as_ref().and_then(|e| e.get(X_CODES));
                assert!(codes.is_some_and(|c| c.is_array()), "{id} lists no codes");
            }
        }
        assert!(json().starts_with('{') && json().contains("\"openapi\":\"3.1"));
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let link =
            &doc["paths"]["/api/admin/shops"]["post"]["responses"]["200"]["links"]["show_shop"];
        assert_eq!(link["operationId"], "show_shop");
        // A flattened optional part (an agent's own allocation) requires nothing.
        let own = &doc["components"]["schemas"]["OwnAllocationView"];
        assert!(own["properties"]["retail_price"].is_object());
        assert!(own.get("required").is_none(), "{own}");
        let view = doc["components"]["schemas"]["PackageView"].to_string();
        assert!(!view.contains("oneOf"), "{view}");
        assert_eq!(link["parameters"]["id"], "$response.body#/data/id");
    }

    #[test]
    fn writes_of_signed_in_callers_take_an_idempotency_key() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let key_param = |op: &serde_json::Value| {
            op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == "Idempotency-Key")
                .cloned()
        };
        let mut keyed = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let public = matches!(
                    access::required(&method.to_uppercase().parse().unwrap(), path),
                    Some(Access::Public)
                );
                let write = method != "get";
                let Some(param) = key_param(op) else {
                    assert!(!write || public, "{method} {path} takes no Idempotency-Key");
                    continue;
                };
                assert!(write && !public, "{method} {path} should not take the key");
                keyed += 1;
                assert_eq!(param["in"], "header");
                assert_eq!(param["required"], false);
                assert_eq!(param["schema"]["maxLength"], 255);
                let codes = op[X_CODES].as_array().unwrap();
                for code in [1001, 1008, 1009, 1061] {
                    assert!(codes.contains(&json!(code)), "{method} {path}: {code}");
                }
                assert!(op["responses"]["409"]["description"]
                    .as_str()
                    .unwrap()
                    .contains("`1009`"));
                assert!(op["responses"]["422"].is_object(), "{method} {path}");
                let ok = &op["responses"]["200"]["headers"];
                let accepted = &op["responses"]["202"]["headers"];
                assert!(
                    ok["Idempotent-Replayed"].is_object()
                        || accepted["Idempotent-Replayed"].is_object(),
                    "{method} {path}"
                );
            }
        }
        assert!(keyed >= 50, "only {keyed} keyed writes");
        let login = &doc["paths"]["/api/admin/login"]["post"];
        assert!(key_param(login).is_none());
    }

    /// Every `$ref` of the document names a component it holds.
    fn refs(v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                    out.insert(r.to_string());
                }
                m.values().for_each(|x| refs(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_same_named_types_do_not_share_a_component() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let mut found = BTreeSet::new();
        refs(&doc, &mut found);
        for r in &found {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{r} names no component"
            );
        }
        // Two Rust enums are called `Operator`: a tier's and an alert rule's.
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["AlertOperator"]["enum"][0], "gt");
        assert_eq!(schemas["Operator"]["enum"][0], ">");
    }
}
