//! `POST /login` and `POST /logout`: the form login of the pages, which starts and ends a
//! cookie session (`auth` checks it on every later request).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::PageStaff;
use crate::serve::auth::{session_cookie, Via, SESSION_HOURS};
use crate::serve::error::{AppError, PageError};
use crate::serve::AppState;

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`: check the password (throttled per name), start a session, set the
/// cookie and go to the queue. A failure shows the form again with 401.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = super::request_lang(&headers, &uri, state.lang());
    let name = form.name.trim().to_string();
    let key = format!("login:{name}");
    let db = state.db();
    let fail = |status, message: &str| super::login_page(lang, status, Some(message), &name);
    match db.login_throttled(&key).await {
        Ok(true) => {
            let e = AppError::Throttled;
            return fail(e.status(), &format!("{e} / {}", e.zh()));
        }
        Ok(false) => {}
        Err(e) => return PageError(e.into()).into_response(),
    }
    let user = match db.verify_password(&name, &form.password).await {
        Ok(u) => u,
        Err(e) => return PageError(e.into()).into_response(),
    };
    let Some(user) = user else {
        if let Err(e) = db.record_login_failure(&key).await {
            return PageError(e.into()).into_response();
        }
        return fail(
            axum::http::StatusCode::UNAUTHORIZED,
            "wrong name or password / 用户名或密码错误",
        );
    };
    let session = match async {
        db.clear_login_failures(&key).await?;
        db.create_session(&user, chrono::Duration::hours(SESSION_HOURS))
            .await
    }
    .await
    {
        Ok(s) => s,
        Err(e) => return PageError(e.into()).into_response(),
    };
    tracing::info!(user = %user.name, "login");
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(&session.token, SESSION_HOURS * 3600, state.secure_cookies()),
    );
    res
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /logout` (with the CSRF token): end the session, clear the cookie.
pub async fn logout(
    State(state): State<AppState>,
    PageStaff(staff, _): PageStaff,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    staff.check_csrf(form.csrf.as_deref())?;
    if let Via::Session { token, .. } = &staff.via {
        state.db().delete_session(token).await?;
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session_cookie("", 0, state.secure_cookies()),
    );
    Ok(res)
}
