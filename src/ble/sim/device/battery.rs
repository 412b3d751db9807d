//! The device's power source as the states byte and the Battery Report show it.

#[derive(Debug)]
pub(super) struct Battery {
    pub mains: bool,
    pub permille: u16,
    pub last_drain_mws: u16,
}

impl Battery {
    pub fn percent(&self) -> u8 {
        u8::try_from(self.permille / 10).unwrap_or(100)
    }

    pub fn critical(&self) -> bool {
        !self.mains && self.percent() < 20
    }

    /// States byte 12: bit 0 critical, bit 1 charging, bits 2–7 percent / 2 (locks only).
    pub fn state_byte(&self, opener: bool) -> u8 {
        let critical = u8::from(self.critical());
        if opener {
            return critical;
        }
        let charging = u8::from(self.mains) << 1;
        ((self.percent() / 2) << 2) | charging | critical
    }

    pub fn millivolts(&self) -> u16 {
        if self.mains {
            5000
        } else {
            4600 + self.permille.min(1000) * 14 / 10
        }
    }

    pub fn drain(&mut self) {
        if self.mains {
            self.last_drain_mws = 0;
        } else {
            self.permille = self.permille.saturating_sub(1);
            self.last_drain_mws = 260;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_byte_codes_percent_charging_and_critical() {
        let mut battery = Battery {
            mains: false,
            permille: 500,
            last_drain_mws: 0,
        };
        assert_eq!(
            battery.state_byte(false),
            0x64,
            "50 %, as in the vector file"
        );
        assert_eq!(battery.state_byte(true), 0x00, "Openers report only bit 0");
        battery.permille = 150;
        assert_eq!(battery.state_byte(false) & 0x01, 0x01);
        battery.drain();
        assert_eq!(battery.permille, 149);
        let mains = Battery {
            mains: true,
            permille: 1000,
            last_drain_mws: 0,
        };
        assert_eq!(mains.state_byte(false), (50 << 2) | 0x02);
        assert!(!mains.critical());
    }
}
