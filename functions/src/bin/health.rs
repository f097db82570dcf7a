//! Lambda `health`: builds no AWS client.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_stateless(shared::api::health::routes()).await
}
