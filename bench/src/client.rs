//! The scenarios' GraphQL client: one logged-in user of one server.

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// A GraphQL client for one server.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    url: String,
    /// Bearer token.
    pub token: String,
}

impl Api {
    /// Logs in as `email`.
    pub(crate) async fn login(address: &str, email: &str, password: &str) -> Result<Self> {
        let mut api = Api {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
            url: format!("{address}/graphql"),
            token: String::new(),
        };
        let data = api
            .call(
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({ "e": email, "p": password }),
            )
            .await?;
        api.token = data["login"]["accessToken"]
            .as_str()
            .context("no access token")?
            .to_owned();
        Ok(api)
    }

    /// Posts a GraphQL request; any error in the answer is an error here.
    pub(crate) async fn call(&self, query: &str, variables: Value) -> Result<Value> {
        self.call_as(query, &variables).await
    }

    /// Posts a GraphQL request and decodes its `data` into `T`, as a typed client does.
    pub(crate) async fn call_as<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: &Value,
    ) -> Result<T> {
        #[derive(serde::Serialize)]
        struct Request<'a> {
            query: &'a str,
            variables: &'a Value,
        }
        #[derive(serde::Deserialize)]
        struct Answer<T> {
            data: Option<T>,
            errors: Option<Value>,
        }
        let mut request = self
            .http
            .post(&self.url)
            .json(&Request { query, variables });
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        let answer: Answer<T> = request.send().await?.json().await?;
        if let Some(errors) = answer.errors {
            bail!("GraphQL errors: {errors}");
        }
        answer.data.context("an answer without data or errors")
    }
}
