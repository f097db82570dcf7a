//! Lambda `admin-auth`; before the first login of each process it also seeds the
//! permission catalogue and creates the super admin, once, if they are missing.

use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_auth::routes, Clients::API.bootstrap()).await
}
