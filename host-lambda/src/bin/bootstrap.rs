//! The Lambda function (`bootstrap` for the `provided.al2023` runtime).
fn main() {}
