//! The radio side of one connection: a task owning the simulated device's link, turning
//! GATT calls into link writes and the device's indications into `Value` changes.

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use nuki_edge::ble::{BleError, BleLink};

pub enum LinkCommand {
    Write(Uuid, Vec<u8>, oneshot::Sender<Result<(), BleError>>),
    Subscribe(Uuid, oneshot::Sender<Result<(), BleError>>),
    /// The central asked for it (Device1.Disconnect).
    Disconnect(oneshot::Sender<()>),
    /// The radio lost the device (supervision timeout): no goodbye.
    Lose,
}

/// What the link task reports to the fake.
pub enum LinkReport {
    Indication(Uuid, Vec<u8>),
    Ended,
}

const COMMAND_QUEUE: usize = 16;

pub fn spawn(
    mut link: Box<dyn BleLink>,
    report: impl Fn(LinkReport) + Send + 'static,
) -> mpsc::Sender<LinkCommand> {
    let (sender, mut commands) = mpsc::channel(COMMAND_QUEUE);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(LinkCommand::Write(uuid, value, answer)) => {
                        let _ = answer.send(link.write(uuid, &value).await);
                    }
                    Some(LinkCommand::Subscribe(uuid, answer)) => {
                        let _ = answer.send(link.subscribe(uuid).await);
                    }
                    Some(LinkCommand::Disconnect(answer)) => {
                        let _ = link.disconnect().await;
                        report(LinkReport::Ended);
                        let _ = answer.send(());
                        return;
                    }
                    Some(LinkCommand::Lose) | None => {
                        let _ = link.disconnect().await;
                        report(LinkReport::Ended);
                        return;
                    }
                },
                // Cancel-safe by the BleLink contract.
                indication = link.next_indication() => match indication {
                    Ok(indication) => report(LinkReport::Indication(indication.characteristic, indication.value)),
                    Err(_) => {
                        report(LinkReport::Ended);
                        return;
                    }
                },
            }
        }
    });
    sender
}
