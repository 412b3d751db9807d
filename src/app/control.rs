//! The local control channel: a Unix socket (mode 0600) through which one-shot CLI commands
//! (`nuki-edge state|lock|unlock|unlatch`, `nuki-edge account …`) reach the running daemon,
//! which holds the store and the radio. One JSON request line in, one JSON answer line out.
//!
//! Whoever can open the socket is on the machine with the daemon's (or root's) rights, so the
//! request runs as [`Principal::Local`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ble::sim::SimControl;
use crate::config::Config;
use crate::gateway::{DeviceView, Gateway, Principal};

use super::device_command::DeviceCommand;

/// A request line longer than this is refused.
const MAX_REQUEST_BYTES: u64 = 4096;
/// A client must send its request within this time.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Beyond the daemon's own action deadline, how long a client waits for the answer.
const ANSWER_MARGIN: Duration = Duration::from_secs(5);

/// Where the control socket lives.
pub fn socket_path(config: &Config) -> PathBuf {
    config.gateway.control_socket.clone().unwrap_or_else(|| {
        let mut path = config.store.path.clone().into_os_string();
        path.push(".control.sock");
        path.into()
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRequest {
    pub command: DeviceCommand,
    /// A device's name or address.
    pub device: String,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlAnswer {
    Done(serde_json::Value),
    /// The request itself was wrong (unknown device, malformed request): exit code 2.
    BadRequest(String),
    /// The device or the daemon could not do it: exit code 1.
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot create the control socket {path}: {source}")]
    Bind {
        path: String,
        source: std::io::Error,
    },
    #[error("control socket {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the daemon did not answer within {0:?}")]
    NoAnswer(Duration),
    #[error("the daemon's answer could not be read: {0}")]
    BadAnswer(String),
}

/// Binds the socket with mode 0600. A leftover socket file of a daemon that is gone is
/// replaced; a live one is an error (a second daemon on the same store).
pub async fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |source| ControlError::Bind {
        path: path.display().to_string(),
        source,
    };
    if UnixStream::connect(path).await.is_ok() {
        return Err(failed(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "another daemon answers on it",
        )));
    }
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if std::os::unix::fs::FileTypeExt::is_socket(&metadata.file_type()) => {
            std::fs::remove_file(path).map_err(failed)?;
        }
        Ok(_) => {
            return Err(failed(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            )))
        }
        Err(_) => {}
    }
    // Bound under a temporary name and renamed once private, so nobody can connect to it
    // while it still has the default permissions.
    let mut staging = path.as_os_str().to_owned();
    staging.push(format!(".{}", std::process::id()));
    let staging = PathBuf::from(staging);
    let _ = std::fs::remove_file(&staging);
    let listener = UnixListener::bind(&staging).map_err(failed)?;
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
    std::fs::rename(&staging, path).map_err(failed)?;
    Ok(listener)
}

/// Serves requests until `shutdown`; then removes the socket file.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    gateway: Arc<Gateway>,
    sim: Option<SimControl>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let connections = TaskTracker::new();
    let result = loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => break Err(error),
            },
        };
        let (gateway, sim) = (gateway.clone(), sim.clone());
        connections.spawn(async move {
            if let Err(error) = answer(stream, &gateway, sim.as_ref()).await {
                tracing::debug!(%error, "control connection failed");
            }
        });
    };
    let _ = std::fs::remove_file(&path);
    connections.close();
    connections.wait().await;
    result
}

async fn answer(
    stream: UnixStream,
    gateway: &Gateway,
    sim: Option<&SimControl>,
) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut line = String::new();
    let read = tokio::time::timeout(
        REQUEST_READ_TIMEOUT,
        BufReader::new(reader.take(MAX_REQUEST_BYTES)).read_line(&mut line),
    )
    .await;
    let answer = match read {
        Ok(Ok(_)) if super::doctor::is_doctor_request(&line) => super::doctor::answer(gateway),
        Ok(Ok(_)) if super::sim_cli::is_sim_request(&line) => {
            super::sim_cli::answer(gateway, sim, &line)
        }
        Ok(Ok(_)) if super::accounts_cli::is_account_request(&line) => {
            super::accounts_cli::answer(gateway, &line).await
        }
        Ok(Ok(_)) => match serde_json::from_str::<ControlRequest>(line.trim()) {
            Ok(request) => run(gateway, request).await,
            Err(error) => ControlAnswer::BadRequest(format!("malformed control request: {error}")),
        },
        Ok(Err(error)) => return Err(error),
        Err(_) => ControlAnswer::BadRequest("no request within the time limit".into()),
    };
    let mut text = serde_json::to_string(&answer)
        .unwrap_or_else(|_| r#"{"failed":"the answer could not be rendered"}"#.to_owned());
    text.push('\n');
    writer.write_all(text.as_bytes()).await?;
    writer.shutdown().await
}

async fn run(gateway: &Gateway, request: ControlRequest) -> ControlAnswer {
    let principal = Principal::Local;
    let devices = gateway.devices(&principal);
    let Some(device) = find_device(&devices, &request.device) else {
        return ControlAnswer::BadRequest(format!(
            "unknown device '{}': give the name or address of a paired device",
            request.device
        ));
    };
    let result = match request.command.action(device.product.service_family()) {
        None => gateway
            .read_state(&principal, &device.address)
            .await
            .map(|report| serde_json::json!({ "state": report.state })),
        Some(action) => gateway
            .act(&principal, &device.address, action)
            .await
            .map(|report| {
                serde_json::json!({ "action": action, "accepted": true, "state": report.state })
            }),
    };
    match result {
        Ok(value) => ControlAnswer::Done(serde_json::json!({
            "device": device.name,
            "address": device.address,
            "result": value,
        })),
        Err(refusal) => ControlAnswer::Failed(format!("{}: {refusal}", device.name)),
    }
}

fn find_device<'a>(devices: &'a [DeviceView], text: &str) -> Option<&'a DeviceView> {
    devices
        .iter()
        .find(|d| d.address.0.eq_ignore_ascii_case(text) || d.name.eq_ignore_ascii_case(text))
}

/// Sends one request to a running daemon. `Ok(None)` when no daemon listens on `path`.
pub async fn request(
    path: &Path,
    request: &impl Serialize,
    answer_within: Duration,
) -> Result<Option<ControlAnswer>, ControlError> {
    let io = |source| ControlError::Io {
        path: path.display().to_string(),
        source,
    };
    let stream = match UnixStream::connect(path).await {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(error) => return Err(io(error)),
    };
    let (reader, mut writer) = stream.into_split();
    let mut text = serde_json::to_string(request)
        .map_err(|error| ControlError::BadAnswer(error.to_string()))?;
    text.push('\n');
    writer.write_all(text.as_bytes()).await.map_err(io)?;
    let limit = answer_within + ANSWER_MARGIN;
    let mut line = String::new();
    tokio::time::timeout(limit, BufReader::new(reader).read_line(&mut line))
        .await
        .map_err(|_| ControlError::NoAnswer(limit))?
        .map_err(io)?;
    serde_json::from_str(line.trim())
        .map(Some)
        .map_err(|error| ControlError::BadAnswer(error.to_string()))
}
