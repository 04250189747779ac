//! One exchange with the fake: the [`Incoming`] request as the handlers read it and the
//! [`Answer`] they give (Helix's and OAuth's JSON shapes, rate-limit headers).

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::Endpoint;
use super::state::RateHeaders;

/// One request, as the handlers need it.
pub(super) struct Incoming {
    pub(super) method: Method,
    pub(super) endpoint: Option<Endpoint>,
    pub(super) params: Vec<(String, String)>,
    pub(super) authorization: Option<String>,
    pub(super) client_id: Option<String>,
}

impl Incoming {
    pub(super) fn values(&self, name: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(super) fn value(&self, name: &str) -> Option<&str> {
        self.values(name).into_iter().next()
    }

    /// The token after `Bearer ` or `OAuth `.
    pub(super) fn token(&self) -> Option<&str> {
        let value = self.authorization.as_deref()?;
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("OAuth "))
    }
}

/// A response: status, JSON (or a raw, broken body) and maybe rate-limit headers.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) body: Result<Value, &'static str>,
    pub(super) rate: Option<RateHeaders>,
    /// A redirect's target (302).
    pub(super) location: Option<String>,
}

impl Answer {
    pub(super) fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Ok(body),
            rate: None,
            location: None,
        }
    }

    /// 302 to `location` (the consent page sending the browser back).
    pub(super) fn redirect(location: &str) -> Self {
        Self {
            status: StatusCode::FOUND,
            body: Ok(Value::Null),
            rate: None,
            location: Some(location.to_owned()),
        }
    }

    /// Helix's error shape.
    pub(super) fn helix_error(status: u16, message: &str) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let reason = status.canonical_reason().unwrap_or("Error");
        Self {
            status,
            body: Ok(json!({"error": reason, "status": status.as_u16(), "message": message})),
            rate: None,
            location: None,
        }
    }

    /// The OAuth service's error shape.
    pub(super) fn oauth_error(status: u16, message: &str) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            status,
            body: Ok(json!({"status": status.as_u16(), "message": message})),
            rate: None,
            location: None,
        }
    }

    pub(super) fn invalid_json() -> Self {
        Self {
            status: StatusCode::OK,
            body: Err("{\"data\": [{\"id\": "),
            rate: None,
            location: None,
        }
    }

    pub(super) fn with_rate(mut self, rate: RateHeaders) -> Self {
        self.rate = Some(rate);
        self
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let body = match self.body {
            Ok(value) => Body::from(value.to_string()),
            Err(raw) => Body::from(raw),
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        if let Some(location) = self
            .location
            .and_then(|l| header::HeaderValue::from_str(&l).ok())
        {
            headers.insert(header::LOCATION, location);
        }
        if let Some(rate) = self.rate {
            headers.insert("ratelimit-limit", rate.limit.into());
            headers.insert("ratelimit-remaining", rate.remaining.into());
            headers.insert("ratelimit-reset", rate.reset.into());
        }
        response
    }
}
