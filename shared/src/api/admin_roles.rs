//! `admin-roles`: roles, permissions and role permissions (api.md §4).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data, Envelope, Nothing};
use super::extract::{Body, Id, Query};
use crate::app::AppState;
use crate::domain::caller::Caller;
use crate::domain::entities::{Permission, Role};
use crate::paging::{CursorPage, PageQuery};
use crate::services::org::StatusRequest;
use crate::services::roles::{
    self, CreatePermission, CreateRole, PermissionNode, RoleFilter, RolePermissions,
    UpdatePermission, UpdateRole,
};

/// The tag of this group's operations in the OpenAPI document.
const TAG: &str = "admin-roles";

/// This group's operations in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    create,
    show,
    update,
    delete,
    status,
    permissions,
    set_permissions,
    permission_tree,
    create_permission,
    update_permission,
    delete_permission
))]
pub struct Doc;

/// Routes of the `admin-roles` function.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/roles", get(list).post(create))
        .route(
            "/api/admin/roles/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/roles/{id}/status", put(status))
        .route(
            "/api/admin/roles/{id}/permissions",
            get(permissions).put(set_permissions),
        )
        .route(
            "/api/admin/permissions",
            get(permission_tree).post(create_permission),
        )
        .route(
            "/api/admin/permissions/{id}",
            put(update_permission).delete(delete_permission),
        )
}

#[utoipa::path(get, path = "/api/admin/roles", operation_id = "list_roles", tag = TAG,
    params(PageQuery, RoleFilter),
    responses((status = 200, body = Envelope<CursorPage<Role>>)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
    Query(filter): Query<RoleFilter>,
) -> ApiResult<CursorPage<Role>> {
    Ok(Data(
        roles::list_roles(&st.store, &caller, &filter, &page).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/roles", operation_id = "create_role", tag = TAG,
    request_body = CreateRole,
    responses((status = 200, body = Envelope<Role>)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateRole>,
) -> ApiResult<Role> {
    Ok(Data(
        roles::create_role(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/roles/{id}", operation_id = "show_role", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Role>)))]
async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<Role> {
    Ok(Data(roles::get_role(&st.store, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/admin/roles/{id}", operation_id = "update_role", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdateRole,
    responses((status = 200, body = Envelope<Role>)))]
async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdateRole>,
) -> ApiResult<Role> {
    Ok(Data(
        roles::update_role(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

#[utoipa::path(delete, path = "/api/admin/roles/{id}", operation_id = "delete_role", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    roles::delete_role(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

#[utoipa::path(put, path = "/api/admin/roles/{id}/status", operation_id = "set_role_status", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = StatusRequest,
    responses((status = 200, body = Envelope<Role>)))]
async fn status(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<StatusRequest>,
) -> ApiResult<Role> {
    Ok(Data(
        roles::set_role_status(&st.store, &caller, st.clock.now(), id, req.status).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/roles/{id}/permissions", operation_id = "permissions_role", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Vec<Permission>>)))]
async fn permissions(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Vec<Permission>> {
    Ok(Data(roles::role_permissions(&st.store, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/admin/roles/{id}/permissions", operation_id = "set_permissions_role", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = RolePermissions,
    responses((status = 200, body = Envelope<Vec<Permission>>)))]
async fn set_permissions(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<RolePermissions>,
) -> ApiResult<Vec<Permission>> {
    Ok(Data(
        roles::set_role_permissions(&st.store, &caller, id, req).await?,
    ))
}

/// Names, on every node, the routes its code guards (the route table is HTTP's).
fn with_routes(nodes: &mut [PermissionNode]) {
    for node in nodes {
        node.routes = super::access::routes_of(&node.permission.perm_code);
        with_routes(&mut node.children);
    }
}

/// The permission catalogue: every live permission as a tree, each with the routes
/// it guards.
#[utoipa::path(get, path = "/api/admin/permissions", operation_id = "permission_tree_role", tag = TAG,
    responses((status = 200, body = Envelope<Vec<PermissionNode>>)))]
async fn permission_tree(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Vec<PermissionNode>> {
    let mut tree = roles::permission_tree(&st.store, &caller).await?;
    with_routes(&mut tree);
    Ok(Data(tree))
}

#[utoipa::path(post, path = "/api/admin/permissions", operation_id = "create_permission_role", tag = TAG,
    request_body = CreatePermission,
    responses((status = 200, body = Envelope<Permission>)))]
async fn create_permission(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreatePermission>,
) -> ApiResult<Permission> {
    Ok(Data(
        roles::create_permission(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

#[utoipa::path(put, path = "/api/admin/permissions/{id}", operation_id = "update_permission_role", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    request_body = UpdatePermission,
    responses((status = 200, body = Envelope<Permission>)))]
async fn update_permission(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Body(req): Body<UpdatePermission>,
) -> ApiResult<Permission> {
    Ok(Data(
        roles::update_permission(&st.store, &caller, st.clock.now(), id, req).await?,
    ))
}

#[utoipa::path(delete, path = "/api/admin/permissions/{id}", operation_id = "delete_permission_role", tag = TAG,
    params(("id" = u64, Path, minimum = 1)),
    responses((status = 200, body = Envelope<Nothing>)))]
async fn delete_permission(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<()> {
    roles::delete_permission(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}
