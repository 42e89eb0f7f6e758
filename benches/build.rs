//! Compiles rpcbench's echo service (`proto/echo.proto`) with protox (pure Rust, no
//! system `protoc`), as `strata-proto` does for Strata's own protocol.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/echo.proto"];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure().bytes(".").compile_fds(fds)?;
    Ok(())
}
