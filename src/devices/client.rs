//! Typed operations on one paired device over an open [`NukiLink`].
//!
//! This is the client code every caller uses — the CLI, the daemon and the tests — whether the
//! link runs over BlueZ or the simulator.

use crate::nuki::command::CommandId;
use crate::nuki::enums::{DeviceAction, SortOrder};
use crate::nuki::exchange::{Exchange, ExchangeResult, Session};
use crate::nuki::messages::{
    AdvancedConfig, AuthorizationEntry, BatteryReport, Config, KeypadCode, KeypadCodeUpdate,
    KeyturnerStates, LogEntry, Message, NewKeypadCode, SecurityPin, SetAdvancedConfig, SetConfig,
    UserAuthorizationUpdate,
};

use super::credentials::DeviceCredentials;
use super::link::{LinkError, LinkTimeouts, NukiLink};
use crate::ble::BleTransport;

/// Largest page the devices hand out in one list exchange.
pub const LIST_PAGE: u16 = 100;

/// How a device action ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionReport {
    /// The device accepted the action before completing it (it was not already in the target
    /// state).
    pub accepted: bool,
    /// Every state the device reported while acting, in order; the last one is final.
    pub states: Vec<KeyturnerStates>,
}

impl ActionReport {
    pub fn final_state(&self) -> Option<&KeyturnerStates> {
        self.states.last()
    }
}

/// A session with one paired device.
pub struct DeviceClient {
    link: NukiLink,
    session: Session,
    pin: Option<SecurityPin>,
    app_id: u32,
}

impl DeviceClient {
    /// `app_id` is the id used at pairing (devices put it in their log); `pin` is the
    /// device's security PIN, needed for administrative commands.
    pub fn new(link: NukiLink, session: Session, app_id: u32, pin: Option<SecurityPin>) -> Self {
        Self {
            link,
            session,
            pin,
            app_id,
        }
    }

    /// Opens a link to a paired device and a session on it.
    pub async fn connect(
        transport: &dyn BleTransport,
        credentials: &DeviceCredentials,
        timeouts: LinkTimeouts,
    ) -> Result<Self, LinkError> {
        let link = NukiLink::connect(transport, &credentials.address, timeouts, None).await?;
        Ok(Self::new(
            link,
            credentials.session(),
            credentials.app_id,
            credentials.security_pin,
        ))
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn link(&self) -> &NukiLink {
        &self.link
    }

    /// Runs any request and returns everything the device answered.
    pub async fn execute(&mut self, request: Message) -> Result<ExchangeResult, LinkError> {
        self.link.execute(&self.session, request, self.pin).await
    }

    pub async fn states(&mut self) -> Result<KeyturnerStates, LinkError> {
        let result = self
            .execute(request_data(CommandId::KeyturnerStates))
            .await?;
        single(result, |message| match message {
            Message::KeyturnerStates(states) => Some(states),
            _ => None,
        })
    }

    pub async fn battery(&mut self) -> Result<BatteryReport, LinkError> {
        let result = self.execute(request_data(CommandId::BatteryReport)).await?;
        single(result, |message| match message {
            Message::BatteryReport(report) => Some(report),
            _ => None,
        })
    }

    /// Lock, unlock, unlatch, lock 'n' go, … (Opener: ring to open, open, continuous mode).
    pub async fn act(&mut self, action: DeviceAction) -> Result<ActionReport, LinkError> {
        let result = self.execute(self.lock_action(action)).await?;
        Ok(action_report(result))
    }

    /// Starts an action and returns as soon as the device accepted it (`accepted`, usually
    /// without states: the device is still moving and reports the end through its
    /// advertisement), or completed it at once because it already was in the target state.
    pub async fn start_act(&mut self, action: DeviceAction) -> Result<ActionReport, LinkError> {
        let exchange = Exchange::new(self.lock_action(action), self.pin).until_accepted();
        let result = self.link.run_exchange(&self.session, exchange).await?;
        Ok(action_report(result))
    }

    fn lock_action(&self, action: DeviceAction) -> Message {
        Message::LockAction {
            action,
            app_id: self.app_id,
            flags: 0,
            name_suffix: None,
        }
    }

    pub async fn config(&mut self) -> Result<Config, LinkError> {
        let result = self.execute(Message::RequestConfig).await?;
        single(result, |message| match message {
            Message::Config(config) => Some(config),
            _ => None,
        })
    }

    pub async fn set_config(&mut self, config: SetConfig) -> Result<(), LinkError> {
        self.execute(Message::SetConfig(config)).await.map(drop)
    }

    pub async fn advanced_config(&mut self) -> Result<AdvancedConfig, LinkError> {
        let result = self.execute(Message::RequestAdvancedConfig).await?;
        single(result, |message| match message {
            Message::AdvancedConfig(config) => Some(config),
            _ => None,
        })
    }

    pub async fn set_advanced_config(
        &mut self,
        config: SetAdvancedConfig,
    ) -> Result<(), LinkError> {
        self.execute(Message::SetAdvancedConfig(config))
            .await
            .map(drop)
    }

    /// Log entries after `start_index` (0 = from the start) in the given order.
    pub async fn log_entries(
        &mut self,
        start_index: u32,
        count: u16,
        sort_order: SortOrder,
    ) -> Result<Vec<LogEntry>, LinkError> {
        self.request_log(start_index, count, sort_order, true).await
    }

    /// One page of the log, without the Log Entry Count: up to `count` entries strictly
    /// newer (ascending) or older (descending) than the entry `start_index` (0: from the
    /// oldest or the newest entry).
    pub async fn log_page(
        &mut self,
        start_index: u32,
        count: u16,
        sort_order: SortOrder,
    ) -> Result<Vec<LogEntry>, LinkError> {
        self.request_log(start_index, count, sort_order, false)
            .await
    }

    async fn request_log(
        &mut self,
        start_index: u32,
        count: u16,
        sort_order: SortOrder,
        total_count: bool,
    ) -> Result<Vec<LogEntry>, LinkError> {
        let request = Message::RequestLogEntries {
            start_index,
            count,
            sort_order,
            total_count,
        };
        let result = self.execute(request).await?;
        Ok(collect(result, |message| match message {
            Message::LogEntry(entry) => Some(entry),
            _ => None,
        }))
    }

    pub async fn keypad_codes(&mut self) -> Result<Vec<KeypadCode>, LinkError> {
        let request = Message::RequestKeypadCodes {
            offset: 0,
            count: LIST_PAGE,
        };
        let result = self.execute(request).await?;
        Ok(collect(result, |message| match message {
            Message::KeypadCode(code) => Some(code),
            _ => None,
        }))
    }

    /// Adds a keypad code and returns its id.
    pub async fn add_keypad_code(&mut self, code: NewKeypadCode) -> Result<u16, LinkError> {
        let result = self.execute(Message::AddKeypadCode(code)).await?;
        single(result, |message| match message {
            Message::KeypadCodeId { code_id, .. } => Some(code_id),
            _ => None,
        })
    }

    pub async fn update_keypad_code(&mut self, code: KeypadCodeUpdate) -> Result<(), LinkError> {
        self.execute(Message::UpdateKeypadCode(code))
            .await
            .map(drop)
    }

    pub async fn remove_keypad_code(&mut self, code_id: u16) -> Result<(), LinkError> {
        self.execute(Message::RemoveKeypadCode { code_id })
            .await
            .map(drop)
    }

    /// Authorizations of the device; the first is our own.
    pub async fn authorizations(&mut self) -> Result<Vec<AuthorizationEntry>, LinkError> {
        let request = Message::RequestAuthorizationEntries {
            offset: 0,
            count: LIST_PAGE,
        };
        let result = self.execute(request).await?;
        Ok(collect(result, |message| match message {
            Message::AuthorizationEntry(entry) => Some(entry),
            _ => None,
        }))
    }

    pub async fn update_authorization(
        &mut self,
        update: UserAuthorizationUpdate,
    ) -> Result<(), LinkError> {
        self.execute(Message::UpdateUserAuthorization(update))
            .await
            .map(drop)
    }

    /// Changes the security PIN; later commands of this client use the new one.
    pub async fn set_security_pin(&mut self, new_pin: SecurityPin) -> Result<(), LinkError> {
        self.execute(Message::SetSecurityPin { new_pin }).await?;
        self.pin = Some(new_pin);
        Ok(())
    }

    pub async fn verify_security_pin(&mut self) -> Result<(), LinkError> {
        self.execute(Message::VerifySecurityPin).await.map(drop)
    }

    pub async fn close(self) {
        self.link.disconnect().await;
    }
}

fn action_report(result: ExchangeResult) -> ActionReport {
    ActionReport {
        accepted: result.accepted,
        states: result
            .replies
            .into_iter()
            .filter_map(|message| match message {
                Message::KeyturnerStates(states) => Some(states),
                _ => None,
            })
            .collect(),
    }
}

fn request_data(command: CommandId) -> Message {
    Message::RequestData {
        command,
        extra: Vec::new(),
    }
}

fn single<T>(result: ExchangeResult, pick: impl Fn(Message) -> Option<T>) -> Result<T, LinkError> {
    result
        .replies
        .into_iter()
        .find_map(pick)
        .ok_or(LinkError::MissingReply)
}

fn collect<T>(result: ExchangeResult, pick: impl Fn(Message) -> Option<T>) -> Vec<T> {
    result.replies.into_iter().filter_map(pick).collect()
}
