//! Project automation: `cargo xtask ci`, `demo`, `bench`, `dist`.
fn main() {}
