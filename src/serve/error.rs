//! The one error type of the review app and its two renderings: JSON under `/api`
//! ([`ApiError`]), an HTML page elsewhere ([`PageError`]; a page asked for anonymously
//! redirects to `/login`).
//!
//! | variant | status | when |
//! |---|---|---|
//! | `Unauthorized` | 401 | no session or token (pages: 303 to `/login`) |
//! | `Forbidden` | 403 | a viewer writing, a missing or wrong CSRF token, a foreign `Origin` |
//! | `NotFound` | 404 | absent, **or outside the user's region** (never told apart) |
//! | `Conflict` | 409 | a stale topic version, a second open topic for one signal |
//! | `Invalid` | 422 | a refused transition, a filter or field that cannot be used |
//! | `Throttled` | 429 | too many failed logins |
//! | `Internal` | 500 | database or published files: logged whole, answered with a fixed phrase |

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::catalog::CatalogError;
use crate::review_db::DbError;

/// Why a request is refused. Messages are English; pages add the Chinese phrase of the
/// status (see [`AppError::zh`]).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("log in first, or send `Authorization: Bearer <token>`")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("too many failed logins for this name; wait 15 minutes and try again")]
    Throttled,
    /// Logged whole; the response says only that something failed on the server.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Throttled => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short machine-readable name of the error (`"error"` in JSON).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::Invalid(_) => "invalid",
            AppError::Throttled => "throttled",
            AppError::Internal(_) => "internal",
        }
    }

    /// The message a client sees: never the internals of a 500.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => {
                "the server could not answer; the error is in its log".to_string()
            }
            other => other.to_string(),
        }
    }

    /// The status in Chinese, shown on pages beside the English message.
    pub fn zh(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "请先登录",
            AppError::Forbidden(_) => "无权执行此操作",
            AppError::NotFound(_) => "未找到（或不在您的辖区内）",
            AppError::Conflict(_) => "冲突：该议题已被他人修改，未保存任何内容，请刷新后重试",
            AppError::Invalid(_) => "请求无效",
            AppError::Throttled => "登录失败次数过多，请 15 分钟后再试",
            AppError::Internal(_) => "服务器出错，详情见服务器日志",
        }
    }

    pub(super) fn log(&self) {
        if let AppError::Internal(m) = self {
            tracing::error!(error = %m, "request failed");
        }
    }

    pub fn forbidden(m: impl Into<String>) -> AppError {
        AppError::Forbidden(m.into())
    }

    pub fn invalid(m: impl Into<String>) -> AppError {
        AppError::Invalid(m.into())
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> AppError {
        match e {
            DbError::Invalid(m) => AppError::Invalid(m),
            DbError::UnknownUser(_) | DbError::UserExists(_) => AppError::Invalid(e.to_string()),
            DbError::Forbidden { .. } => AppError::Forbidden(e.to_string()),
            DbError::TopicNotFound(_) => AppError::NotFound(e.to_string()),
            DbError::Conflict { .. } => AppError::Conflict(e.to_string()),
            DbError::Transition(t) => AppError::Invalid(t.to_string()),
            DbError::Config(_) | DbError::Open { .. } | DbError::Sqlx(_) | DbError::Hash(_) => {
                AppError::Internal(e.to_string())
            }
        }
    }
}

impl From<CatalogError> for AppError {
    fn from(e: CatalogError) -> AppError {
        match e {
            CatalogError::NotFound(_) => AppError::NotFound(e.to_string()),
            CatalogError::Invalid { .. } => AppError::Invalid(e.to_string()),
            CatalogError::Damaged { .. } | CatalogError::Io { .. } => {
                AppError::Internal(e.to_string())
            }
        }
    }
}

/// An error answered as JSON: `{"error": CODE, "message": TEXT}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

/// An error answered as an HTML page (or a redirect to `/login` when anonymous).
#[derive(Debug)]
pub struct PageError(pub AppError);

macro_rules! wrap_from {
    ($wrapper:ident) => {
        impl From<AppError> for $wrapper {
            fn from(e: AppError) -> Self {
                $wrapper(e)
            }
        }
        impl From<DbError> for $wrapper {
            fn from(e: DbError) -> Self {
                $wrapper(e.into())
            }
        }
        impl From<CatalogError> for $wrapper {
            fn from(e: CatalogError) -> Self {
                $wrapper(e.into())
            }
        }
    };
}
wrap_from!(ApiError);
wrap_from!(PageError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let body = serde_json::json!({
            "error": self.0.code(),
            "message": self.0.public_message(),
        });
        let mut r = (self.0.status(), axum::Json(body)).into_response();
        if matches!(self.0, AppError::Unauthorized) {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"pvwatch\""),
            );
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
pub type PageResult<T> = Result<T, PageError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_map_to_their_statuses() {
        let conflict: AppError = DbError::Conflict {
            id: 3,
            current: 5,
            yours: 4,
        }
        .into();
        assert_eq!(conflict.status(), StatusCode::CONFLICT);
        assert!(conflict.to_string().contains("version 5"), "{conflict}");
        let nf: AppError = DbError::TopicNotFound(9).into();
        assert_eq!(nf.status(), StatusCode::NOT_FOUND);
        let internal: AppError = DbError::Config("secret detail".into()).into();
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!internal.public_message().contains("secret"));
        let bad: AppError = CatalogError::Invalid {
            field: "sort",
            message: "expected …".into(),
        }
        .into();
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
