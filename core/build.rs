fn main() {
    // sqlx::migrate! embeds the migrations at compile time: a new or changed file must rebuild.
    println!("cargo:rerun-if-changed=../migrations");
}
