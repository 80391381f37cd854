//! Property tests for the per-connection write queue (issue 6, part 8).
//!
//! Random sequences of pushes, vectored flushes through a fake socket that
//! accepts arbitrary byte counts (or would block, is interrupted, fails),
//! direct consumes, slice views and clears are applied both to a
//! `WriteQueue` and to a plain `Vec<u8>` model of the unsent bytes. After
//! every step the queue must hold exactly the model's bytes, in order.

use std::io::{self, IoSlice};

use _torsion::core::write_queue::{WriteQueue, MAX_IOVECS};
use proptest::prelude::*;

/// What the fake socket does on one vectored send.
#[derive(Clone, Debug)]
enum Send {
    /// Accept this many bytes (capped at what was offered).
    Take(usize),
    /// Accept everything offered.
    All,
    WouldBlock,
    Interrupted,
    Fail,
}

#[derive(Clone, Debug)]
enum Op {
    Push(Vec<u8>),
    Flush(Vec<Send>),
    /// Consume this share (in 1/256ths) of what is queued.
    Consume(u8),
    /// View the front through this many slices.
    Slices(usize),
    Clear,
}

fn send_strategy() -> impl Strategy<Value = Send> {
    prop_oneof![
        4 => (0usize..300).prop_map(Send::Take),
        1 => Just(Send::All),
        1 => Just(Send::WouldBlock),
        1 => Just(Send::Interrupted),
        1 => Just(Send::Fail),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..40),
            1 => prop::collection::vec(any::<u8>(), 0..2000),
        ]
        .prop_map(Op::Push),
        3 => prop::collection::vec(send_strategy(), 0..8).prop_map(Op::Flush),
        1 => any::<u8>().prop_map(Op::Consume),
        1 => (0usize..=MAX_IOVECS + 2).prop_map(Op::Slices),
        1 => Just(Op::Clear),
    ]
}

fn concat(iov: &[IoSlice<'_>]) -> Vec<u8> {
    iov.iter().flat_map(|s| s.iter().copied()).collect()
}

/// Runs one flush against the scripted socket and checks it against the
/// model; returns the bytes the socket accepted.
fn flush(queue: &mut WriteQueue<Vec<u8>>, model: &[u8], script: &[Send]) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut step = 0;
    let mut failed_after_sending = None;
    let result = queue.flush_with(|iov| {
        assert!(!iov.is_empty(), "send called with no buffers");
        assert!(iov.len() <= MAX_IOVECS, "more than MAX_IOVECS buffers");
        let offered = concat(iov);
        // The queue always offers its front: the model's next bytes.
        let start = wire.len();
        assert_eq!(&offered[..], &model[start..start + offered.len()]);
        let action = script.get(step).cloned().unwrap_or(Send::WouldBlock);
        step += 1;
        match action {
            Send::Take(n) => {
                let n = n.min(offered.len());
                wire.extend_from_slice(&offered[..n]);
                Ok(n)
            }
            Send::All => {
                wire.extend_from_slice(&offered);
                Ok(offered.len())
            }
            Send::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
            Send::Interrupted => Err(io::ErrorKind::Interrupted.into()),
            Send::Fail => {
                failed_after_sending = Some(!wire.is_empty());
                Err(io::ErrorKind::ConnectionReset.into())
            }
        }
    });
    assert!(
        step <= script.len() + 1,
        "flush kept calling a blocked socket"
    );
    match result {
        Ok(sent) => {
            assert_eq!(sent, wire.len());
            // A hard error is swallowed only when something was sent first.
            assert_ne!(failed_after_sending, Some(false));
        }
        Err(e) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
            assert_eq!(failed_after_sending, Some(false));
            assert!(wire.is_empty());
        }
    }
    wire
}

fn check(queue: &WriteQueue<Vec<u8>>, model: &[u8]) {
    assert_eq!(queue.len(), model.len());
    assert_eq!(queue.is_empty(), model.is_empty());
    let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
    let n = queue.slices(&mut iov);
    let front = concat(&iov[..n]);
    assert_eq!(&front[..], &model[..front.len()]);
    assert_eq!(n == 0, model.is_empty());
    assert!(
        iov[..n].iter().all(|s| !s.is_empty()),
        "empty slice offered"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES overrides (scripts/memcheck.sh lowers it under
        // valgrind).
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
        max_shrink_iters: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn bytes_come_out_in_order_and_none_are_lost(
        ops in prop::collection::vec(op_strategy(), 0..60)
    ) {
        let mut queue: WriteQueue<Vec<u8>> = WriteQueue::new();
        let mut model: Vec<u8> = Vec::new();
        // Everything pushed, and everything that left (sent or consumed),
        // in order: what left must always be a prefix of what was pushed,
        // up to the bytes dropped by clear().
        let mut pushed: Vec<u8> = Vec::new();
        let mut left: Vec<u8> = Vec::new();
        for op in ops {
            match op {
                Op::Push(buf) => {
                    pushed.extend_from_slice(&buf);
                    model.extend_from_slice(&buf);
                    queue.push(buf);
                }
                Op::Flush(script) => {
                    let wire = flush(&mut queue, &model, &script);
                    prop_assert_eq!(&wire[..], &model[..wire.len()]);
                    left.extend_from_slice(&wire);
                    model.drain(..wire.len());
                }
                Op::Consume(share) => {
                    let n = model.len() * usize::from(share) / 255;
                    queue.consume(n);
                    left.extend(model.drain(..n));
                }
                Op::Slices(count) => {
                    let mut iov = vec![IoSlice::new(&[]); count];
                    let n = queue.slices(&mut iov);
                    prop_assert!(n <= count);
                    let front = concat(&iov[..n]);
                    prop_assert_eq!(&front[..], &model[..front.len()]);
                    if n < count {
                        // Fewer slices than room: that was the whole queue.
                        prop_assert_eq!(front.len(), model.len());
                    }
                }
                Op::Clear => {
                    queue.clear();
                    // What was dropped never left: forget it on both sides.
                    pushed.truncate(pushed.len() - model.len());
                    model.clear();
                }
            }
            check(&queue, &model);
            prop_assert_eq!(&left[..], &pushed[..left.len()]);
            prop_assert_eq!(left.len() + model.len(), pushed.len());
        }
        // Drain: a socket that takes 7 bytes at a time empties the queue.
        let script = vec![Send::Take(7); model.len().div_ceil(7) + 1];
        let wire = flush(&mut queue, &model, &script);
        prop_assert_eq!(&wire, &model);
        left.extend_from_slice(&wire);
        prop_assert!(queue.is_empty());
        prop_assert_eq!(left, pushed);
    }
}

#[test]
#[should_panic(expected = "consumed more than queued")]
fn consuming_more_than_queued_panics() {
    let mut queue: WriteQueue<Vec<u8>> = WriteQueue::new();
    queue.push(vec![1, 2, 3]);
    queue.consume(4);
}
