//! What both shop services answer with when something is wrong, and the JSON body extractor
//! that turns a malformed request into such an answer.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::db::DbError;

/// An error answer: a status and `{"error": "<message>"}`.
///
/// Turning it into a response also sets the `error` tag on the current span — the request's
/// SERVER span, which is current while axum builds the answer — so a refused request shows up
/// as an error in the trace even though it is not a 5xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the caller.
    pub message: String,
}

impl ApiError {
    /// An error answer with `status`.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use traced_examples::shop::api::ApiError;
    /// let error = ApiError::new(StatusCode::NOT_FOUND, "no item 7");
    /// assert_eq!(error.message, "no item 7");
    /// ```
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 422: the JSON is well formed but a value is not acceptable.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 404: the thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 502: a service this one depends on failed.
    pub fn bad_gateway(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_GATEWAY, message)
    }
}

impl From<DbError> for ApiError {
    /// A 500 that tells the caller only that the database failed; the details are on the
    /// database span in the trace.
    fn from(_: DbError) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "database error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The trace layer tags 5xx answers itself; 4xx are ours to mark.
        tracing::Span::current().record("error", self.message.as_str());
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// Like `axum::Json`, but a body that cannot be read — not JSON, wrong `Content-Type`, a field
/// missing or of the wrong type, too large — is answered with an [`ApiError`] carrying axum's
/// status (400, 415, 422 or 413) and explanation, instead of axum's plain-text answer.
#[derive(Debug, Clone, Copy)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(rejected(rejection)),
        }
    }
}

fn rejected(rejection: JsonRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}

/// The answer to a path no route matches.
pub async fn no_route() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// The answer to a known path with the wrong method.
pub async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method",
    )
}
