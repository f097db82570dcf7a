//! Lambda `admin-auth`; at cold start it also seeds the permission catalogue and
//! creates the super admin, once, if they are missing.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = functions::start(shared::app::Clients::API).await?;
    shared::services::auth::bootstrap(&state).await?;
    let app = functions::lambda_app(shared::api::admin_auth::routes(), state);
    lambda_http::run(app).await
}
