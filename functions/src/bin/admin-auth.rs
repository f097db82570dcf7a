//! Lambda `admin-auth`; also creates the super admin once if none exists.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = functions::start(shared::app::Clients::API).await?;
    shared::services::auth::ensure_super_admin(&state).await?;
    let app = functions::lambda_app(shared::api::admin_auth::routes(), state);
    lambda_http::run(app).await
}
