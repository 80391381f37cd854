//! Property test of a stream's life (core/life.rs) against a model written
//! the way Twisted keeps the same state: six independent flags
//! (`connected`, `disconnecting`, `_writeDisconnecting`,
//! `_writeDisconnected`, `_aborting`, `disconnected`) changed by the rules
//! of Twisted's `FileDescriptor` and `tcp.Connection`. Random sequences of
//! operations go to both; after every step each answer and every flag
//! Python can read must agree.

use _torsion::core::life::{Drained, Life, Lose, WriteSide};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Op {
    Connected,
    Lose,
    LoseWrite,
    Abort,
    Drained,
    Close,
}

// The model is Twisted's loose flags on purpose: it is what the state
// machine is checked against.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    connected: bool,
    disconnecting: bool,
    write_disconnecting: bool,
    write_disconnected: bool,
    aborting: bool,
    closed: bool,
    was_connected: bool,
}

impl Flags {
    fn open(self) -> bool {
        self.connected && !self.aborting && !self.closed
    }

    fn lose(&mut self) -> Lose {
        if !self.connected || self.closed {
            return Lose::Nothing;
        }
        if self.aborting {
            self.disconnecting = true;
            return Lose::Nothing;
        }
        if self.disconnecting {
            return Lose::Nothing;
        }
        if self.write_disconnected {
            return Lose::CloseNow;
        }
        self.disconnecting = true;
        Lose::Drain
    }

    fn lose_write(&mut self) -> bool {
        if !self.open() {
            return false;
        }
        if !self.write_disconnected {
            self.write_disconnecting = true;
        }
        true
    }

    fn abort(&mut self) -> bool {
        if !self.open() {
            return false;
        }
        self.aborting = true;
        true
    }

    fn drained(&mut self) -> Drained {
        if !self.open() {
            return Drained::Nothing;
        }
        if self.disconnecting {
            return Drained::Close;
        }
        if self.write_disconnecting && !self.write_disconnected {
            self.write_disconnected = true;
            return Drained::ShutWrite;
        }
        Drained::Nothing
    }

    fn close(&mut self) -> Option<bool> {
        if self.closed {
            return None;
        }
        self.closed = true;
        self.was_connected = self.connected;
        self.connected = false;
        Some(self.was_connected)
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Connected),
        3 => Just(Op::Lose),
        3 => Just(Op::LoseWrite),
        1 => Just(Op::Abort),
        4 => Just(Op::Drained),
        1 => Just(Op::Close),
    ]
}

proptest! {
    #[test]
    fn life_agrees_with_twisteds_flags(
        connecting in any::<bool>(),
        ops in proptest::collection::vec(op_strategy(), 0..24),
    ) {
        let mut life = if connecting { Life::Connecting } else { Life::Open(WriteSide::Open) };
        let mut model = Flags { connected: !connecting, ..Flags::default() };
        for op in ops {
            match op {
                Op::Connected => {
                    life.connected();
                    if !model.connected && !model.closed {
                        model.connected = true;
                    }
                }
                Op::Lose => prop_assert_eq!(life.lose(), model.lose()),
                Op::LoseWrite => prop_assert_eq!(life.lose_write(), model.lose_write()),
                Op::Abort => prop_assert_eq!(life.abort(), model.abort()),
                Op::Drained => prop_assert_eq!(life.drained(), model.drained()),
                Op::Close => prop_assert_eq!(life.close(), model.close()),
            }
            prop_assert_eq!(life.connected_flag(), model.connected, "connected after {:?}", op);
            prop_assert_eq!(life.disconnecting(), model.disconnecting, "disconnecting after {:?}", op);
            prop_assert_eq!(life.disconnected(), model.closed && model.was_connected);
            prop_assert_eq!(life.is_open(), model.open());
            prop_assert_eq!(
                life.accepts_writes(),
                model.open() && !model.write_disconnected,
                "accepts_writes after {:?}", op
            );
            prop_assert_eq!(life.reads(), model.open() && !model.disconnecting);
            prop_assert_eq!(life.write_shut(), model.open() && model.write_disconnected);
        }
    }
}
