//! One HTTP/1.1 keep-alive connection to a nidan node on loopback.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// One keep-alive connection.
pub(crate) struct Conn {
    pub(crate) send: SendRequest<Full<Bytes>>,
    pub(crate) host: String,
}

impl Conn {
    pub(crate) async fn open(target: &str) -> anyhow::Result<Self> {
        let host = target
            .strip_prefix("http://")
            .context("targets are http://127.0.0.1:PORT")?
            .trim_end_matches('/')
            .to_owned();
        if !host.starts_with("127.0.0.1:") && !host.starts_with("localhost:") {
            bail!("loopback targets only, not {host}");
        }
        let stream = tokio::net::TcpStream::connect(&host).await?;
        stream.set_nodelay(true)?;
        let (send, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::task::spawn_local(async move {
            let _ = connection.await;
        });
        Ok(Self { send, host })
    }

    /// POSTs JSON; the status and the body.
    pub(crate) async fn post(
        &mut self,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> anyhow::Result<(u16, Bytes)> {
        self.send.ready().await?;
        let mut req = hyper::Request::post(path)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let res = self
            .send
            .send_request(req.body(Full::new(Bytes::from(body.to_string())))?)
            .await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// GETs `path` with extra headers; the status.
    pub(crate) async fn get(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<u16> {
        Ok(self.get_text(path, headers).await?.0)
    }

    /// GETs `path` with extra headers; the status and the body.
    pub(crate) async fn get_text(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, Bytes)> {
        self.send.ready().await?;
        let mut req = hyper::Request::get(path).header(hyper::header::HOST, &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self
            .send
            .send_request(req.body(Full::new(Bytes::new()))?)
            .await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    pub(crate) async fn post_json(
        &mut self,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> anyhow::Result<Value> {
        let (status, bytes) = self.post(path, body, token).await?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status != 200 {
            bail!("{path}: {status} {value}");
        }
        Ok(value)
    }
}
