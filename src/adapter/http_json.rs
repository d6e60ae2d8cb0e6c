//! http_json
