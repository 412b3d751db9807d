//! Command identifiers of the master table.

macro_rules! command_ids {
    ($($variant:ident = $value:literal, $name:literal;)*) => {
        /// A Nuki command id (u16, little-endian on the wire).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CommandId {
            $($variant,)*
            /// An id this gateway does not know; kept so that it can be reported.
            Unknown(u16),
        }

        impl CommandId {
            pub const ALL: &'static [CommandId] = &[$(CommandId::$variant,)*];

            pub fn from_u16(value: u16) -> Self {
                match value {
                    $($value => CommandId::$variant,)*
                    other => CommandId::Unknown(other),
                }
            }

            pub fn to_u16(self) -> u16 {
                match self {
                    $(CommandId::$variant => $value,)*
                    CommandId::Unknown(other) => other,
                }
            }

            /// The snake_case name used in JSON output and logs.
            pub fn name(self) -> &'static str {
                match self {
                    $(CommandId::$variant => $name,)*
                    CommandId::Unknown(_) => "unknown",
                }
            }
        }
    };
}

command_ids! {
    RequestData = 0x0001, "request_data";
    PublicKey = 0x0003, "public_key";
    Challenge = 0x0004, "challenge";
    AuthorizationAuthenticator = 0x0005, "authorization_authenticator";
    AuthorizationData = 0x0006, "authorization_data";
    AuthorizationId = 0x0007, "authorization_id";
    RemoveUserAuthorization = 0x0008, "remove_user_authorization";
    RequestAuthorizationEntries = 0x0009, "request_authorization_entries";
    AuthorizationEntry = 0x000A, "authorization_entry";
    AuthorizationDataInvite = 0x000B, "authorization_data_invite";
    KeyturnerStates = 0x000C, "keyturner_states";
    LockAction = 0x000D, "lock_action";
    Status = 0x000E, "status";
    MostRecentCommand = 0x000F, "most_recent_command";
    OpeningsClosingsSummary = 0x0010, "openings_closings_summary";
    BatteryReport = 0x0011, "battery_report";
    ErrorReport = 0x0012, "error_report";
    SetConfig = 0x0013, "set_config";
    RequestConfig = 0x0014, "request_config";
    Config = 0x0015, "config";
    SetSecurityPin = 0x0019, "set_security_pin";
    RequestCalibration = 0x001A, "request_calibration";
    RequestReboot = 0x001D, "request_reboot";
    AuthorizationIdConfirmation = 0x001E, "authorization_id_confirmation";
    AuthorizationIdInvite = 0x001F, "authorization_id_invite";
    VerifySecurityPin = 0x0020, "verify_security_pin";
    UpdateTime = 0x0021, "update_time";
    UpdateUserAuthorization = 0x0025, "update_user_authorization";
    AuthorizationEntryCount = 0x0027, "authorization_entry_count";
    FirmwareStatus = 0x0029, "firmware_status";
    StartBusSignalRecording = 0x002F, "start_bus_signal_recording";
    RequestLogEntries = 0x0031, "request_log_entries";
    LogEntry = 0x0032, "log_entry";
    LogEntryCount = 0x0033, "log_entry_count";
    EnableLogging = 0x0034, "enable_logging";
    SetAdvancedConfig = 0x0035, "set_advanced_config";
    RequestAdvancedConfig = 0x0036, "request_advanced_config";
    AdvancedConfig = 0x0037, "advanced_config";
    AddTimeControlEntry = 0x0039, "add_time_control_entry";
    TimeControlEntryId = 0x003A, "time_control_entry_id";
    RemoveTimeControlEntry = 0x003B, "remove_time_control_entry";
    RequestTimeControlEntries = 0x003C, "request_time_control_entries";
    TimeControlEntryCount = 0x003D, "time_control_entry_count";
    TimeControlEntry = 0x003E, "time_control_entry";
    UpdateTimeControlEntry = 0x003F, "update_time_control_entry";
    AddKeypadCode = 0x0041, "add_keypad_code";
    KeypadCodeId = 0x0042, "keypad_code_id";
    RequestKeypadCodes = 0x0043, "request_keypad_codes";
    KeypadCodeCount = 0x0044, "keypad_code_count";
    KeypadCode = 0x0045, "keypad_code";
    UpdateKeypadCode = 0x0046, "update_keypad_code";
    RemoveKeypadCode = 0x0047, "remove_keypad_code";
    KeypadAction = 0x0048, "keypad_action";
    AuthorizationInfo = 0x004C, "authorization_info";
    ContinuousModeAction = 0x0057, "continuous_mode_action";
    SimpleLockAction = 0x0100, "simple_lock_action";
}

impl serde::Serialize for CommandId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl std::fmt::Display for CommandId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:#06x})", self.name(), self.to_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for id in CommandId::ALL {
            assert_eq!(CommandId::from_u16(id.to_u16()), *id);
        }
        assert_eq!(CommandId::from_u16(0x7777), CommandId::Unknown(0x7777));
    }
}
