//! `admin-roles`: roles, permissions and role permissions (api.md §4).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;

use super::envelope::{ApiResult, Data};
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

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreateRole>,
) -> ApiResult<Role> {
    Ok(Data(
        roles::create_role(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

async fn show(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<Role> {
    Ok(Data(roles::get_role(&st.store, &caller, id).await?))
}

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

async fn delete(State(st): State<AppState>, caller: Caller, Id(id): Id) -> ApiResult<()> {
    roles::delete_role(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}

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

async fn permissions(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Vec<Permission>> {
    Ok(Data(roles::role_permissions(&st.store, &caller, id).await?))
}

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
async fn permission_tree(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Vec<PermissionNode>> {
    let mut tree = roles::permission_tree(&st.store, &caller).await?;
    with_routes(&mut tree);
    Ok(Data(tree))
}

async fn create_permission(
    State(st): State<AppState>,
    caller: Caller,
    Body(req): Body<CreatePermission>,
) -> ApiResult<Permission> {
    Ok(Data(
        roles::create_permission(&st.store, &caller, st.clock.now(), req).await?,
    ))
}

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

async fn delete_permission(
    State(st): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<()> {
    roles::delete_permission(&st.store, &caller, st.clock.now(), id).await?;
    Ok(Data(()))
}
