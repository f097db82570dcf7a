//! Lambda `health`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::health::routes).await
}
