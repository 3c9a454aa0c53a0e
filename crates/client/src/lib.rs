//! Blocking OAuth 2.0 client library for devauth (work in progress).
