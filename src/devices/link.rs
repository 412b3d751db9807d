//! One link to one device: connect, enable indications, pair, run command exchanges.
//!
//! Moves bytes between a [`BleLink`] and the pure state machines of `nuki`; owns the deadlines.

use std::collections::HashMap;
use std::time::Duration;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use tokio::time::{timeout_at, Instant};
use uuid::Uuid;

use crate::ble::{BleError, BleLink, BleTransport, DeviceAddress};
use crate::nuki::crypto::{KeyPair, NONCE_LEN};
use crate::nuki::exchange::{Exchange, ExchangeError, ExchangeResult, ExchangeStep, Session};
use crate::nuki::messages::{Message, SecurityPin};
use crate::nuki::pairing::{
    PairingClient, PairingError, PairingOutcome, PairingRequest, PairingStep,
};
use crate::nuki::reassembly::{Framing, Reassembler};
use crate::nuki::uuids::{Characteristics, ServiceFamily};

/// Connecting includes service discovery; BlueZ needs long for uncached devices.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Enabling indications on one characteristic.
pub const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
/// One whole write (long writes included).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole command exchange, motor time included (a lock 'n' go waits for its timer).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// Each step of pairing; the user may still be holding the button.
pub const PAIRING_STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Deadlines of a link, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTimeouts {
    pub connect: Duration,
    pub command: Duration,
}

impl Default for LinkTimeouts {
    fn default() -> Self {
        Self {
            connect: DEFAULT_CONNECT_TIMEOUT,
            command: DEFAULT_COMMAND_TIMEOUT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("radio: {0}")]
    Ble(#[from] BleError),
    #[error("{0} does not offer the Nuki services")]
    NotNuki(DeviceAddress),
    #[error("no answer from the device while waiting for {waiting_for} (after {after:?})")]
    Timeout {
        waiting_for: &'static str,
        after: Duration,
    },
    #[error("pairing failed: {0}")]
    Pairing(#[from] PairingError),
    #[error("{0}")]
    Exchange(#[from] ExchangeError),
    #[error("the device completed the command without the expected reply")]
    MissingReply,
}

impl LinkError {
    /// The device could not be reached or the link broke: worth a retry on a new link.
    pub fn is_link_failure(&self) -> bool {
        matches!(self, LinkError::Ble(_) | LinkError::Timeout { .. })
    }
}

/// An open, subscribed link to a Nuki device.
pub struct NukiLink {
    address: DeviceAddress,
    link: Box<dyn BleLink>,
    family: ServiceFamily,
    characteristics: Characteristics,
    reassemblers: HashMap<Uuid, Reassembler>,
    rng: ChaCha20Rng,
    timeouts: LinkTimeouts,
    dropped_frames: u64,
}

impl std::fmt::Debug for NukiLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NukiLink")
            .field("address", &self.address)
            .field("family", &self.family)
            .field("dropped_frames", &self.dropped_frames)
            .finish_non_exhaustive()
    }
}

impl NukiLink {
    /// Connects, detects the device family from its services and enables indications on both
    /// keyturner characteristics (devices forget them on every disconnect). `seed` makes the
    /// transport nonces deterministic for tests; production passes `None`.
    pub async fn connect(
        transport: &dyn BleTransport,
        address: &DeviceAddress,
        timeouts: LinkTimeouts,
        seed: Option<u64>,
    ) -> Result<Self, LinkError> {
        let link = tokio::time::timeout(timeouts.connect, transport.connect(address))
            .await
            .map_err(|_| BleError::Timeout {
                operation: "connect",
                after: timeouts.connect,
            })??;
        let Some(family) = ServiceFamily::detect(&link.characteristics()) else {
            let mut link = link;
            if let Err(error) = link.disconnect().await {
                tracing::debug!(device = %address, %error, "disconnect failed");
            }
            return Err(LinkError::NotNuki(address.clone()));
        };
        let characteristics = family.characteristics();
        let rng = match seed {
            Some(seed) => ChaCha20Rng::seed_from_u64(seed),
            None => ChaCha20Rng::from_entropy(),
        };
        let mut this = Self {
            address: address.clone(),
            link,
            family,
            characteristics,
            reassemblers: HashMap::new(),
            rng,
            timeouts,
            dropped_frames: 0,
        };
        let subscribed = async {
            this.subscribe(characteristics.keyturner_gdio, Framing::Plain)
                .await?;
            this.subscribe(characteristics.keyturner_usdio, Framing::Encrypted)
                .await
        }
        .await;
        match subscribed {
            Ok(()) => Ok(this),
            Err(error) => {
                this.disconnect().await;
                Err(error)
            }
        }
    }

    pub fn family(&self) -> ServiceFamily {
        self.family
    }

    pub fn address(&self) -> &DeviceAddress {
        &self.address
    }

    /// Malformed messages dropped on this link so far.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames
    }

    async fn subscribe(&mut self, characteristic: Uuid, framing: Framing) -> Result<(), LinkError> {
        tokio::time::timeout(SUBSCRIBE_TIMEOUT, self.link.subscribe(characteristic))
            .await
            .map_err(|_| BleError::Timeout {
                operation: "enable indications",
                after: SUBSCRIBE_TIMEOUT,
            })??;
        self.reassemblers
            .insert(characteristic, Reassembler::new(framing));
        Ok(())
    }

    async fn write(&mut self, characteristic: Uuid, bytes: &[u8]) -> Result<(), LinkError> {
        tokio::time::timeout(WRITE_TIMEOUT, self.link.write(characteristic, bytes))
            .await
            .map_err(|_| BleError::Timeout {
                operation: "write",
                after: WRITE_TIMEOUT,
            })??;
        Ok(())
    }

    /// Waits for the next whole message on any subscribed characteristic. Malformed input is
    /// logged, counted and dropped.
    async fn next_message(
        &mut self,
        deadline: Instant,
        waiting_for: &'static str,
        allowed: Duration,
    ) -> Result<(Uuid, Vec<u8>), LinkError> {
        loop {
            if let Some(ready) = self.buffered_message() {
                return Ok(ready);
            }
            let indication = timeout_at(deadline, self.link.next_indication())
                .await
                .map_err(|_| LinkError::Timeout {
                    waiting_for,
                    after: allowed,
                })??;
            let Some(reassembler) = self.reassemblers.get_mut(&indication.characteristic) else {
                continue;
            };
            match reassembler.push(&indication.value) {
                Ok(Some(message)) => return Ok((indication.characteristic, message)),
                Ok(None) => {}
                Err(error) => self.count_drop(&error),
            }
        }
    }

    fn buffered_message(&mut self) -> Option<(Uuid, Vec<u8>)> {
        self.reassemblers
            .iter_mut()
            .find_map(|(uuid, reassembler)| reassembler.pop_ready().map(|m| (*uuid, m)))
    }

    fn count_drop(&mut self, error: &dyn std::fmt::Display) {
        self.dropped_frames += 1;
        tracing::warn!(device = %self.address, %error, dropped = self.dropped_frames, "dropped a malformed message");
    }

    fn transport_nonce(&mut self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill_bytes(&mut nonce);
        nonce
    }

    /// Pairs with a device in pairing mode.
    pub async fn pair(&mut self, request: PairingRequest) -> Result<PairingOutcome, LinkError> {
        let pairing_gdio = self.characteristics.pairing_gdio;
        self.subscribe(pairing_gdio, Framing::Plain).await?;
        let mut secret = [0u8; 32];
        self.rng.fill_bytes(&mut secret);
        let keypair = KeyPair::from_secret(secret);
        let mut client = PairingClient::new(request, self.family, keypair, self.rng.gen());
        let mut outgoing = client.start();
        loop {
            self.write(pairing_gdio, &outgoing).await?;
            let framing = client.expected_framing();
            if let Some(reassembler) = self.reassemblers.get_mut(&pairing_gdio) {
                if reassembler.framing() != framing {
                    *reassembler = Reassembler::new(framing);
                }
            }
            let deadline = Instant::now() + PAIRING_STEP_TIMEOUT;
            let message = loop {
                let (characteristic, message) = self
                    .next_message(deadline, "a pairing step", PAIRING_STEP_TIMEOUT)
                    .await?;
                if characteristic == pairing_gdio {
                    break message;
                }
            };
            let nonce = self.transport_nonce();
            match client.on_message(&message, nonce) {
                Ok(PairingStep::Send(bytes)) => outgoing = bytes,
                Ok(PairingStep::Done(outcome)) => return Ok(outcome),
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Runs one command exchange with the command deadline.
    pub async fn execute(
        &mut self,
        session: &Session,
        request: Message,
        pin: Option<SecurityPin>,
    ) -> Result<ExchangeResult, LinkError> {
        self.run_exchange(session, Exchange::new(request, pin))
            .await
    }

    /// Runs a prepared exchange (e.g. one that ends at ACCEPTED) with the command deadline.
    pub async fn run_exchange(
        &mut self,
        session: &Session,
        mut exchange: Exchange,
    ) -> Result<ExchangeResult, LinkError> {
        let mut allowed = self.timeouts.command;
        let started = Instant::now();
        let mut deadline = started + allowed;
        let usdio = self.characteristics.keyturner_usdio;
        let nonce = self.transport_nonce();
        let first = exchange.start(session, nonce);
        self.write(usdio, &first).await?;
        loop {
            let (characteristic, message) = self
                .next_message(deadline, "the device's answer", allowed)
                .await?;
            let step = if characteristic == usdio
                && message.len() > crate::nuki::reassembly::PLAIN_ERROR_REPORT_LEN
            {
                let nonce = self.transport_nonce();
                exchange.on_encrypted(session, &message, nonce)
            } else {
                exchange.on_plain(&message)
            };
            match step {
                Ok(ExchangeStep::Send(bytes)) => self.write(usdio, &bytes).await?,
                Ok(ExchangeStep::Continue) => {
                    let wait = Duration::from_secs(u64::from(exchange.announced_wait_secs()));
                    let extended = Instant::now() + wait + self.timeouts.command;
                    if extended > deadline {
                        deadline = extended;
                        allowed = deadline.duration_since(started);
                    }
                }
                Ok(ExchangeStep::Done(result)) => return Ok(result),
                Err(ExchangeError::Frame(error)) => self.count_drop(&error),
                Err(ExchangeError::Decode(error)) => self.count_drop(&error),
                Err(error) => return Err(error.into()),
            }
        }
    }

    pub async fn disconnect(mut self) {
        if let Err(error) = self.link.disconnect().await {
            tracing::debug!(device = %self.address, %error, "disconnect failed");
        }
    }
}
