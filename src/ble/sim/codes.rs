//! Error and status codes the simulated device sends (error report byte 0, status byte 0).
//!
//! Kept as plain bytes: the simulator must also be able to send codes a typed enum would
//! reject, and tests compare wire bytes.

pub(crate) const STATUS_COMPLETE: u8 = 0x00;
pub(crate) const STATUS_ACCEPTED: u8 = 0x01;

pub(crate) const ERROR_BAD_CRC: u8 = 0xFD;
pub(crate) const ERROR_BAD_LENGTH: u8 = 0xFE;
pub(crate) const ERROR_UNKNOWN: u8 = 0xFF;
pub(crate) const P_ERROR_NOT_PAIRING: u8 = 0x10;
pub(crate) const P_ERROR_BAD_AUTHENTICATOR: u8 = 0x11;
pub(crate) const P_ERROR_BAD_PARAMETER: u8 = 0x12;
pub(crate) const P_ERROR_MAX_USER: u8 = 0x13;
pub(crate) const K_ERROR_NOT_AUTHORIZED: u8 = 0x20;
pub(crate) const K_ERROR_BAD_PIN: u8 = 0x21;
pub(crate) const K_ERROR_BAD_NONCE: u8 = 0x22;
pub(crate) const K_ERROR_BAD_PARAMETER: u8 = 0x23;
pub(crate) const K_ERROR_INVALID_AUTH_ID: u8 = 0x24;
pub(crate) const K_ERROR_DISABLED: u8 = 0x25;
pub(crate) const K_ERROR_TIME_NOT_ALLOWED: u8 = 0x27;
pub(crate) const K_ERROR_TOO_MANY_PIN_ATTEMPTS: u8 = 0x28;
pub(crate) const K_ERROR_TOO_MANY_ENTRIES: u8 = 0x29;
pub(crate) const K_ERROR_CODE_ALREADY_EXISTS: u8 = 0x2A;
pub(crate) const K_ERROR_CODE_INVALID: u8 = 0x2B;
pub(crate) const K_ERROR_MOTOR_BLOCKED: u8 = 0x42;
pub(crate) const K_ERROR_BUSY: u8 = 0x45;
pub(crate) const K_ERROR_NOT_CALIBRATED: u8 = 0x47;
