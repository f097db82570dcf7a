//! Lambda `admin-commissions`: commission summaries, records, statements and
//! withdrawal requests; withdrawal review and settings (api.md §22).

#![recursion_limit = "256"]
use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_commissions::routes, Clients::API.s3()).await
}
