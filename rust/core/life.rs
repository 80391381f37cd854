//! A stream's life, from connect to close, as one state machine.
//!
//! Twisted keeps this as flags (`connected`, `disconnecting`,
//! `_writeDisconnecting`, `_writeDisconnected`, `_aborting`,
//! `disconnected`); here each reachable combination is one variant, so that
//! no code can see, say, a half-closed write side on a connection that
//! never opened. The transitions return what the caller must do; they never
//! do it themselves.

/// Where a stream is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    /// A client socket whose connect has not completed.
    Connecting,
    /// Connected; the write side is as `WriteSide` says.
    Open(WriteSide),
    /// `abortConnection()` was called: the queue is dropped and
    /// connectionLost runs on the next turn. `disconnecting` is Twisted's
    /// flag, set by a `loseConnection()` before or after the abort.
    Aborting { disconnecting: bool },
    /// Closed: connectionLost has been delivered (or was never due, for a
    /// connection that never opened). Twisted leaves `disconnecting` as it
    /// was when the connection closed.
    Closed {
        was_connected: bool,
        disconnecting: bool,
    },
}

/// The write side of an open stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteSide {
    Open,
    /// `loseWriteConnection()`: shut down once the queue drains.
    ShutWhenDrained,
    /// Shut down (half-closed); reading goes on.
    Shut,
    /// `loseConnection()`: close once the queue drains.
    CloseWhenDrained,
}

/// What `lose` asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lose {
    /// Nothing (not open, or already closing).
    Nothing,
    /// Stop reading and flush: the close follows the drain.
    Drain,
    /// Nothing more can be written, so nothing would complete the close
    /// later: close now (Twisted calls connectionLost right away).
    CloseNow,
}

/// What a drained write queue asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drained {
    Nothing,
    /// Close the connection (reason: done).
    Close,
    /// Shut the write side down and tell the protocol.
    ShutWrite,
}

impl Life {
    /// The connect completed.
    pub fn connected(&mut self) {
        if *self == Life::Connecting {
            *self = Life::Open(WriteSide::Open);
        }
    }

    /// `loseConnection()`.
    pub fn lose(&mut self) -> Lose {
        match *self {
            Life::Open(WriteSide::Shut) => Lose::CloseNow,
            Life::Open(WriteSide::Open | WriteSide::ShutWhenDrained) => {
                *self = Life::Open(WriteSide::CloseWhenDrained);
                Lose::Drain
            }
            Life::Aborting { .. } => {
                *self = Life::Aborting {
                    disconnecting: true,
                };
                Lose::Nothing
            }
            Life::Open(WriteSide::CloseWhenDrained) | Life::Connecting | Life::Closed { .. } => {
                Lose::Nothing
            }
        }
    }

    /// `loseWriteConnection()`: whether a flush should be scheduled.
    pub fn lose_write(&mut self) -> bool {
        match *self {
            Life::Open(WriteSide::Open) => {
                *self = Life::Open(WriteSide::ShutWhenDrained);
                true
            }
            Life::Open(_) => true,
            _ => false,
        }
    }

    /// `abortConnection()`: whether the abort begins now (it then drops the
    /// queue and schedules connectionLost).
    pub fn abort(&mut self) -> bool {
        match *self {
            Life::Open(side) => {
                *self = Life::Aborting {
                    disconnecting: side == WriteSide::CloseWhenDrained,
                };
                true
            }
            _ => false,
        }
    }

    /// The write queue is empty (and no producer is to be resumed).
    pub fn drained(&mut self) -> Drained {
        match *self {
            Life::Open(WriteSide::CloseWhenDrained) => Drained::Close,
            Life::Open(WriteSide::ShutWhenDrained) => {
                *self = Life::Open(WriteSide::Shut);
                Drained::ShutWrite
            }
            _ => Drained::Nothing,
        }
    }

    /// Ends the life: `Some(was_connected)` the first time, `None` after.
    pub fn close(&mut self) -> Option<bool> {
        let was_connected = match *self {
            Life::Closed { .. } => return None,
            Life::Connecting => false,
            Life::Open(_) | Life::Aborting { .. } => true,
        };
        *self = Life::Closed {
            was_connected,
            disconnecting: self.disconnecting(),
        };
        Some(was_connected)
    }

    /// Twisted's `connected`: from the connect until connectionLost.
    pub fn connected_flag(self) -> bool {
        matches!(self, Life::Open(_) | Life::Aborting { .. })
    }

    /// Twisted's `disconnecting`.
    pub fn disconnecting(self) -> bool {
        matches!(
            self,
            Life::Open(WriteSide::CloseWhenDrained)
                | Life::Aborting {
                    disconnecting: true
                }
                | Life::Closed {
                    disconnecting: true,
                    ..
                }
        )
    }

    /// Twisted's `disconnected`: connectionLost has run.
    pub fn disconnected(self) -> bool {
        matches!(
            self,
            Life::Closed {
                was_connected: true,
                ..
            }
        )
    }

    pub fn is_open(self) -> bool {
        matches!(self, Life::Open(_))
    }

    /// Whether `write()` queues data (Twisted drops writes after the
    /// write side is shut; torsion also after an abort).
    pub fn accepts_writes(self) -> bool {
        matches!(
            self,
            Life::Open(WriteSide::Open | WriteSide::ShutWhenDrained | WriteSide::CloseWhenDrained)
        )
    }

    /// Whether reading may go on: open and not closing.
    pub fn reads(self) -> bool {
        matches!(
            self,
            Life::Open(WriteSide::Open | WriteSide::ShutWhenDrained | WriteSide::Shut)
        )
    }

    /// Whether the write side is shut or being shut.
    pub fn write_shut_or_shutting(self) -> bool {
        matches!(
            self,
            Life::Open(WriteSide::Shut | WriteSide::ShutWhenDrained)
        )
    }

    pub fn write_shut(self) -> bool {
        self == Life::Open(WriteSide::Shut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Life {
        let mut life = Life::Connecting;
        life.connected();
        life
    }

    #[test]
    fn lose_drains_then_closes_once() {
        let mut life = open();
        assert_eq!(life.lose(), Lose::Drain);
        assert!(life.disconnecting() && life.accepts_writes() && !life.reads());
        assert_eq!(life.lose(), Lose::Nothing);
        assert_eq!(life.drained(), Drained::Close);
        assert_eq!(life.close(), Some(true));
        assert!(life.disconnected() && !life.connected_flag() && life.disconnecting());
        assert_eq!(life.close(), None);
    }

    #[test]
    fn half_close_then_lose_closes_at_once() {
        let mut life = open();
        assert!(life.lose_write());
        assert_eq!(life.drained(), Drained::ShutWrite);
        assert!(life.write_shut() && life.reads() && !life.accepts_writes());
        assert_eq!(life.lose(), Lose::CloseNow);
    }

    #[test]
    fn lose_after_lose_write_wins() {
        let mut life = open();
        assert!(life.lose_write());
        assert_eq!(life.lose(), Lose::Drain);
        assert_eq!(life.drained(), Drained::Close);
    }

    #[test]
    fn abort_keeps_twisteds_disconnecting_flag() {
        let mut life = open();
        assert!(life.abort());
        assert!(!life.disconnecting() && life.connected_flag() && !life.accepts_writes());
        assert!(!life.abort());
        assert_eq!(life.lose(), Lose::Nothing);
        assert!(life.disconnecting());
        let mut life = open();
        assert_eq!(life.lose(), Lose::Drain);
        assert!(life.abort());
        assert!(life.disconnecting());
        assert_eq!(life.drained(), Drained::Nothing);
    }

    #[test]
    fn a_connect_that_never_completes_was_never_connected() {
        let mut life = Life::Connecting;
        assert_eq!(life.lose(), Lose::Nothing);
        assert!(!life.abort() && !life.lose_write());
        assert_eq!(life.close(), Some(false));
        assert!(!life.disconnected());
    }
}
