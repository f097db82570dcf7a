//! The fake's HTTP side: WeChat's request checks, the order API, signed answers.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{
    digits, now, paid_view, signed_headers, FakeOrder, FakeState, Forge, LoggedCall, Shared,
};
use crate::integrations::wechat_pay::client::valid_out_trade_no;
use crate::integrations::wechat_pay::sign::{nonce_str, request_message, verify, Authorization};

type Failure = (u16, &'static str, String);

fn fail(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
    (status, code, message.into())
}

/// The transaction JSON a query answers.
fn query_view(out_trade_no: &str, o: &FakeOrder) -> Value {
    match o.state.as_str() {
        "SUCCESS" => paid_view(out_trade_no, o),
        state => json!({
            "appid": o.appid, "mchid": o.mchid, "out_trade_no": out_trade_no,
            "trade_state": state,
            "trade_state_desc": if state == "CLOSED" { "订单已关闭" } else { "订单未支付" },
            "amount": { "total": o.total, "currency": "CNY" },
        }),
    }
}

pub(super) async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string());
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let outcome = authenticate(&s, &method, &path, &headers, &body)
        .and_then(|mchid| operate(&mut s, &method, &path, &mchid, &body));
    let (status, code, text) = match outcome {
        Ok((status, value)) => (
            status,
            None,
            value.map(|v| v.to_string()).unwrap_or_default(),
        ),
        Err((status, code, message)) => (
            status,
            Some(code.to_string()),
            json!({ "code": code, "message": message }).to_string(),
        ),
    };
    s.log.push(LoggedCall {
        method: method.to_string(),
        path,
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
        code,
    });
    let forge = s.forge.pop_front();
    let signed = signed_headers(
        &s.platform_key,
        &s.key_id,
        &now().to_string(),
        text.as_bytes(),
        forge == Some(Forge::BadSignature),
        forge == Some(Forge::WrongSerial),
    );
    drop(s);
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        text,
    )
        .into_response();
    for (name, value) in signed {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::try_from(name),
            axum::http::HeaderValue::try_from(value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    if status != 204 {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
    }
    response
}

/// WeChat's checks of a request; the merchant id it is signed for.
fn authenticate(
    s: &FakeState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, Failure> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("user-agent").is_none_or(str::is_empty) {
        return Err(fail(400, "PARAM_ERROR", "User-Agent header is required"));
    }
    if !header("accept").is_some_and(|a| a.contains("application/json") || a.contains("*/*")) {
        return Err(fail(
            406,
            "PARAM_ERROR",
            "Accept must allow application/json",
        ));
    }
    if method == Method::POST
        && !header("content-type").is_some_and(|c| c.starts_with("application/json"))
    {
        return Err(fail(
            415,
            "PARAM_ERROR",
            "Content-Type must be application/json",
        ));
    }
    let auth = header("authorization")
        .and_then(Authorization::parse)
        .ok_or_else(|| fail(401, "SIGN_ERROR", "Authorization header is malformed"))?;
    let merchant = s
        .merchants
        .get(&auth.mchid)
        .ok_or_else(|| fail(400, "MCH_NOT_EXISTS", "merchant does not exist"))?;
    if auth.serial_no != merchant.serial_no {
        return Err(fail(
            401,
            "SIGN_ERROR",
            "serial_no is not the merchant's certificate",
        ));
    }
    let timestamp: i64 = auth
        .timestamp
        .parse()
        .map_err(|_| fail(401, "SIGN_ERROR", "timestamp is not a number"))?;
    if (now() - timestamp).abs() > 300 {
        return Err(fail(
            401,
            "SIGN_ERROR",
            "timestamp is outside the 5-minute window",
        ));
    }
    let body =
        std::str::from_utf8(body).map_err(|_| fail(400, "PARAM_ERROR", "body is not UTF-8"))?;
    let message = request_message(
        method.as_str(),
        path,
        &auth.timestamp,
        &auth.nonce_str,
        body,
    );
    if !verify(&merchant.public_key, message.as_bytes(), &auth.signature) {
        return Err(fail(401, "SIGN_ERROR", "signature does not verify"));
    }
    Ok(auth.mchid)
}

fn text<'a>(v: &'a Value, name: &str) -> Result<&'a str, Failure> {
    v.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| fail(400, "PARAM_ERROR", format!("{name} is required")))
}

type Answer = (u16, Option<Value>);

fn operate(
    s: &mut FakeState,
    method: &Method,
    path: &str,
    mchid: &str,
    body: &[u8],
) -> Result<Answer, Failure> {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let parse = || {
        serde_json::from_slice::<Value>(body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| fail(400, "PARAM_ERROR", "body must be a JSON object"))
    };
    let by_no = route.strip_prefix("/v3/pay/transactions/out-trade-no/");
    match (method.as_str(), route, by_no) {
        ("POST", "/v3/pay/transactions/native", _) => create(s, "NATIVE", mchid, &parse()?),
        ("POST", "/v3/pay/transactions/jsapi", _) => create(s, "JSAPI", mchid, &parse()?),
        ("GET", _, Some(no)) if !no.contains('/') => {
            let asked = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("mchid="))
                .ok_or_else(|| fail(400, "PARAM_ERROR", "mchid is required"))?;
            if asked != mchid {
                return Err(fail(400, "PARAM_ERROR", "mchid does not match the signer"));
            }
            let order = s
                .orders
                .get(no)
                .filter(|o| o.mchid == mchid)
                .ok_or_else(|| fail(404, "ORDER_NOT_EXIST", "order does not exist"))?;
            Ok((200, Some(query_view(no, order))))
        }
        ("POST", _, Some(rest)) if rest.ends_with("/close") => {
            let no = rest.trim_end_matches("/close");
            if text(&parse()?, "mchid")? != mchid {
                return Err(fail(400, "PARAM_ERROR", "mchid does not match the signer"));
            }
            let order = s
                .orders
                .get_mut(no)
                .filter(|o| o.mchid == mchid)
                .ok_or_else(|| fail(404, "ORDER_NOT_EXIST", "order does not exist"))?;
            if order.state == "SUCCESS" {
                return Err(fail(400, "ORDERPAID", "order is paid"));
            }
            order.state = "CLOSED".into();
            Ok((204, None))
        }
        _ => Err(fail(
            404,
            "NOT_FOUND",
            format!("no API at {method} {route}"),
        )),
    }
}

fn create(
    s: &mut FakeState,
    trade_type: &str,
    mchid: &str,
    req: &Value,
) -> Result<Answer, Failure> {
    let appid = text(req, "appid")?;
    if text(req, "mchid")? != mchid {
        return Err(fail(400, "PARAM_ERROR", "mchid does not match the signer"));
    }
    if text(req, "description")?.chars().count() > 127 {
        return Err(fail(
            400,
            "PARAM_ERROR",
            "description is longer than 127 characters",
        ));
    }
    let no = text(req, "out_trade_no")?;
    if !valid_out_trade_no(no) {
        return Err(fail(
            400,
            "PARAM_ERROR",
            "out_trade_no must be 6-32 of 0-9A-Za-z_-*",
        ));
    }
    let notify_url = text(req, "notify_url")?;
    if !(notify_url.starts_with("https://") || notify_url.starts_with("http://"))
        || notify_url.contains('?')
    {
        return Err(fail(
            400,
            "PARAM_ERROR",
            "notify_url must be an absolute URL without a query",
        ));
    }
    let total = req
        .pointer("/amount/total")
        .and_then(Value::as_i64)
        .filter(|t| *t >= 1)
        .ok_or_else(|| fail(400, "PARAM_ERROR", "amount.total must be an integer >= 1"))?;
    if req
        .pointer("/amount/currency")
        .is_some_and(|c| c.as_str() != Some("CNY"))
    {
        return Err(fail(400, "PARAM_ERROR", "amount.currency must be CNY"));
    }
    let time_expire = match req.get("time_expire") {
        None => None,
        Some(v) => {
            let at = v
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .ok_or_else(|| fail(400, "PARAM_ERROR", "time_expire must be RFC 3339"))?;
            if at.timestamp() <= now() {
                return Err(fail(400, "PARAM_ERROR", "time_expire is in the past"));
            }
            v.as_str().map(str::to_string)
        }
    };
    let openid = if trade_type == "JSAPI" {
        let payer = req.get("payer").unwrap_or(&Value::Null);
        Some(text(payer, "openid")?.to_string())
    } else {
        None
    };
    if let Some(o) = s.orders.get(no) {
        return match o.state.as_str() {
            "CLOSED" => Err(fail(400, "ORDER_CLOSED", "order is closed")),
            "SUCCESS" => Err(fail(403, "ORDERPAID", "order is paid")),
            _ if o.request != *req || o.trade_type != trade_type => Err(fail(
                403,
                "OUT_TRADE_NO_USED",
                "out_trade_no is used by another order",
            )),
            _ => Ok((200, Some(answer(trade_type, &o.answer)))),
        };
    }
    let token: String = nonce_str(20).to_lowercase();
    let answer_text = if trade_type == "NATIVE" {
        format!("weixin://wxpay/bizpayurl?pr={}", nonce_str(9))
    } else {
        let stamp = chrono::Utc::now().with_timezone(&crate::clock::cst());
        format!("wx{}{token}", stamp.format("%d%H%M%S%3f"))
    };
    s.orders.insert(
        no.to_string(),
        FakeOrder {
            mchid: mchid.into(),
            appid: appid.into(),
            trade_type: trade_type.into(),
            total,
            notify_url: notify_url.into(),
            time_expire,
            openid,
            state: "NOTPAY".into(),
            answer: answer_text.clone(),
            transaction_id: format!("4200{}", digits(24)),
            success_time: None,
            request: req.clone(),
            notify_id: uuid::Uuid::new_v4().to_string(),
        },
    );
    Ok((200, Some(answer(trade_type, &answer_text))))
}

fn answer(trade_type: &str, value: &str) -> Value {
    if trade_type == "NATIVE" {
        json!({ "code_url": value })
    } else {
        json!({ "prepay_id": value })
    }
}
