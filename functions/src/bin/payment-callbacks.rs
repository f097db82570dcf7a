//! Lambda `payment-callbacks`: WeChat Pay and Fuiou notifications (public).

#![recursion_limit = "256"]
use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::payment_callbacks::routes, Clients::TABLE).await
}
