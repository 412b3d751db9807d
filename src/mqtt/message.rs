//! One MQTT message to publish, built by the pure parts and sent by the client loop. Every
//! message of ours goes out at QoS 1: retained state must reach the broker, and duplicates
//! of the same retained value are harmless.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: String,
    pub retain: bool,
}

impl Message {
    pub fn retained(topic: String, payload: impl Into<String>) -> Self {
        Self {
            topic,
            payload: payload.into(),
            retain: true,
        }
    }

    pub fn transient(topic: String, payload: impl Into<String>) -> Self {
        Self {
            topic,
            payload: payload.into(),
            retain: false,
        }
    }

    /// An empty retained message: the broker forgets the topic's retained value.
    pub fn clear(topic: String) -> Self {
        Self::retained(topic, "")
    }
}
