//! End-to-end tests against real servers (one test binary, so it links once).
