//! The upload gateway as a Lambda function behind a function URL. Configuration: see
//! `rpmbucket_gateway::lambda`.
//!
//! A function URL receives the whole request body in the invocation payload, so its 6 MB
//! request limit applies before this code runs: for larger packages use the presign flow
//! (`GET /presign/...`, then PUT to S3 directly).

use lambda_http::{run, tracing, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let state = rpmbucket_gateway::lambda::state_from_env().await?;
    run(rpmbucket_gateway::app(state)).await
}
