//! The upload gateway in S3 mode: as a Lambda function behind a function URL (when started by
//! the Lambda runtime, `AWS_LAMBDA_RUNTIME_API` set), otherwise as a standalone HTTP server on
//! `RPMBUCKET_LISTEN` (default `127.0.0.1:8080`). Configuration: see `rpmbucket_gateway::lambda`.
//!
//! A function URL receives the whole request body in the invocation payload, so its 6 MB
//! request limit applies before this code runs: for larger packages use the presign flow
//! (`GET /presign/...`, then PUT to S3 directly). The standalone server answers the 307 before
//! reading the body, so the redirect flow works for any size there.

use lambda_http::{run, tracing, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let state = rpmbucket_gateway::lambda::state_from_env().await?;
    let router = rpmbucket_gateway::lambda::router(state);
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return run(router).await;
    }
    let listen = std::env::var("RPMBUCKET_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!(
        "rpmbucket-gateway: listening on http://{}/",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
