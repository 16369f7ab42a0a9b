import FeedbackDomain
import Synchronization

/// One batch of the writer, from the queue until each of its members is answered, exactly once. The
/// members' calls can still end it while it is being written (a CANCEL or deadline withdraws them):
/// - a member withdrawn while no statement of the batch runs is answered CANCELLED at once, and left
///   out of every later statement;
/// - a member withdrawn while the statement holding it runs makes the batch ask PostgreSQL to cancel
///   that statement (``Withdrawal/cancel(backend:of:)``). It is then answered with what happened: OK
///   when the statement committed all the same, CANCELLED when the cancel stopped it (a statement is
///   one implicit transaction: nothing of it was written); the other members of a stopped statement
///   are written by the batch's next one.
///
/// A member is answered OK only once PostgreSQL confirmed its statement's commit
/// (``StatementResult/committed(_:)``). A member whose statement was sent and whose commit was never
/// confirmed (the connection failed, the store gave up waiting) is answered UNKNOWN: it may or may not
/// be stored. UNAVAILABLE and CANCELLED are for members that are in no committed statement.
///
/// The connection a statement ran on is given back only once the cancels asked for during it are
/// done (``cancelsSettled()``), so that a cancel never reaches a later statement on that connection.
final class BatchWrite: Sendable {
    typealias Item = GroupCommitQueue.Item

    /// The PostgreSQL backend process that runs a statement: its server (an index of the configuration's
    /// servers) and its process id there.
    struct Backend: Sendable, Hashable {
        var server: Int
        var pid: Int32
    }

    /// What the store does for a withdrawal.
    enum Withdrawal: Sendable {
        case none
        /// Answer the item CANCELLED: it is in no statement, and will be in none.
        case answer(Item)
        /// Ask PostgreSQL to cancel the statement that `backend` runs for `batch`; then
        /// ``cancelFinished(delivered:signalled:)``.
        case cancel(backend: Backend, of: BatchWrite)
    }

    /// What PostgreSQL said of a statement of the batch.
    enum StatementResult: Sendable {
        /// Its transaction committed (PostgreSQL answered the next statement on the connection); the
        /// ids it found.
        case committed(Set<Int64>)
        /// PostgreSQL refused it (an error before its CommandComplete): its transaction rolled back,
        /// nothing of it was written. `queryCanceled`: stopped by a cancel or the statement timeout
        /// (SQLSTATE 57014).
        case rolledBack(any Error, queryCanceled: Bool)
        /// It was sent, and nothing says whether it committed (the connection failed before PostgreSQL
        /// confirmed the commit).
        case unknown(any Error)
    }

    /// How a statement of the batch ended.
    enum StatementEnd: Sendable {
        /// Committed: its members are answered.
        case committed
        /// Stopped by the cancel the batch asked for: nothing written; the members withdrawn are
        /// answered CANCELLED, the others wait for the next statement.
        case stoppedByCancel
        /// Failed otherwise: the caller fails the batch (``fail(cause:)``); its members whose statement
        /// may have committed are then answered UNKNOWN.
        case failed(any Error)
    }

    private enum Member {
        case waiting
        case writing
        case withdrawnWhileWriting
        case answered
    }

    private enum Phase {
        case idle
        case running(backend: Backend, cancelRequested: Bool)
        /// The statement ran to its end (CommandComplete); its commit is being confirmed. A cancel can
        /// no longer stop it.
        case confirming
        /// The statement ended (its outcome not yet applied): no cancel is sent from now on.
        case ended(cancelRequested: Bool)
        case givenUp
    }

    private struct State {
        var members: [UInt64: Member]
        var phase = Phase.idle
        /// Cancels asked for and not done yet.
        var cancelsInFlight = 0
        var cancelsWaiter: CheckedContinuation<Void, Never>?
        /// A cancel whose delivery is unknown (it may reach the backend later): the connection must be
        /// closed, not reused.
        var cancelUndelivered = false
        /// A cancel signal reached the current statement's backend (it may have cut short its commit's
        /// wait for a synchronous standby).
        var signalled = false
    }

    /// The batch, in arrival order.
    let items: [Item]
    private let state: Mutex<State>

    init(_ items: [Item]) {
        self.items = items
        self.state = Mutex(State(members: Dictionary(items.map { ($0.id, Member.waiting) }, uniquingKeysWith: { first, _ in first })))
    }

    var ids: [UInt64] { self.items.map(\.id) }

    /// The submission `id` of this batch is withdrawn (its call's CANCEL or deadline).
    func withdraw(_ id: UInt64) -> Withdrawal {
        self.state.withLock { state in
            switch state.members[id] {
            case .waiting:
                state.members[id] = .answered
                return self.items.first { $0.id == id }.map(Withdrawal.answer) ?? .none
            case .writing:
                state.members[id] = .withdrawnWhileWriting
                guard case .running(let backend, cancelRequested: false) = state.phase else { return .none }
                state.phase = .running(backend: backend, cancelRequested: true)
                state.cancelsInFlight += 1
                return .cancel(backend: backend, of: self)
            case .withdrawnWhileWriting, .answered, nil:
                return .none
            }
        }
    }

    /// The members to write now, marked as written by `backend`'s statement (empty when none waits);
    /// nil once the batch was given up on.
    func begin(backend: Backend) -> [Item]? {
        self.state.withLock { state in
            guard case .idle = state.phase else { return nil }
            let members = self.items.filter { state.members[$0.id] == .waiting }
            guard !members.isEmpty else { return [] }
            for member in members { state.members[member.id] = .writing }
            state.phase = .running(backend: backend, cancelRequested: false)
            state.signalled = false
            return members
        }
    }

    /// The statement of ``begin(backend:)`` ran to its end (its CommandComplete): from now on no cancel
    /// is asked for (its commit is being confirmed), and a withdrawal waits for the outcome.
    func statementCompleted() {
        self.state.withLock { state in
            if case .running = state.phase { state.phase = .confirming }
        }
    }

    /// The statement of ``begin(backend:)`` ended, its outcome known to the store: no cancel is sent
    /// from now on. Then ``cancelsSettled()``, then ``statementEnded(_:synchronousReplication:)``.
    func statementStopped() {
        self.state.withLock { state in
            switch state.phase {
            case .running(_, let requested): state.phase = .ended(cancelRequested: requested)
            case .confirming: state.phase = .ended(cancelRequested: false)
            case .idle, .ended, .givenUp: break
            }
        }
    }

    /// The statement of ``begin(backend:)`` ended with `result`. Answers the members it decides.
    ///
    /// `synchronousReplication`: commits wait for a synchronous standby. A cancel that reaches a backend
    /// while its commit waits for the standby ends the wait and PostgreSQL reports success: committed
    /// on the primary, perhaps not on the standby, and lost if the primary fails over. So a statement
    /// that committed after a cancel signal reached it is answered UNKNOWN then, not OK.
    func statementEnded(_ result: StatementResult, synchronousReplication: Bool) -> StatementEnd {
        let (end, answers): (StatementEnd, [(Item, Result<Void, FeedbackError>)]) = self.state.withLock { state in
            let cancelRequested: Bool
            switch state.phase {
            case .running(_, let requested), .ended(let requested):
                cancelRequested = requested
                state.phase = .idle
            case .confirming:
                cancelRequested = false
                state.phase = .idle
            case .idle, .givenUp:
                cancelRequested = false
            }
            var answers: [(Item, Result<Void, FeedbackError>)] = []
            switch result {
            case .committed(let found):
                let replicationUnknown = state.signalled && synchronousReplication
                for item in self.items where [.writing, .withdrawnWhileWriting].contains(state.members[item.id]) {
                    state.members[item.id] = .answered
                    let id = item.submission.interactionID
                    if replicationUnknown {
                        answers.append((item, .failure(.outcomeUnknown(cause: "a cancel reached the statement holding it as it committed: stored on the primary, perhaps not yet on its synchronous standby"))))
                    } else {
                        answers.append((item, found.contains(id) ? .success(()) : .failure(.interactionNotFound(id))))
                    }
                }
                return (.committed, answers)
            case .rolledBack(let error, let queryCanceled):
                // Nothing of the statement was written: a member withdrawn meanwhile is answered
                // CANCELLED; the others wait for the next statement, or for ``fail(cause:)``.
                for item in self.items {
                    switch state.members[item.id] {
                    case .withdrawnWhileWriting:
                        state.members[item.id] = .answered
                        answers.append((item, .failure(.cancelled)))
                    case .writing:
                        state.members[item.id] = .waiting
                    default:
                        break
                    }
                }
                return (queryCanceled && cancelRequested ? .stoppedByCancel : .failed(error), answers)
            case .unknown(let error):
                // Its members stay "writing": ``fail(cause:)`` answers them UNKNOWN.
                return (.failed(error), [])
            }
        }
        for (item, result) in answers { item.complete(result) }
        return end
    }

    /// Answers member `id` with `result` now, unless it was answered before; it is in no later statement.
    func answer(_ id: UInt64, _ result: Result<Void, FeedbackError>) {
        let item: Item? = self.state.withLock { state in
            guard state.members[id] == .waiting else { return nil }
            state.members[id] = .answered
            return self.items.first { $0.id == id }
        }
        item?.complete(result)
    }

    /// Answers every member not answered yet, and starts no statement from now on: the store gave up on
    /// the batch, or its statement failed. A member waiting for a statement is answered UNAVAILABLE
    /// with `cause`; one whose statement was sent without a confirmed outcome, UNKNOWN.
    func fail(cause: String) {
        let failed: [(Item, FeedbackError)] = self.state.withLock { state in
            state.phase = .givenUp
            return self.items.compactMap { item in
                let member = state.members[item.id]
                guard member != .answered else { return nil }
                state.members[item.id] = .answered
                if member == .waiting { return (item, .storeUnavailable(cause: cause)) }
                return (item, .outcomeUnknown(cause: "\(cause), after the statement holding the rating was sent"))
            }
        }
        for (item, error) in failed { item.complete(.failure(error)) }
    }

    /// Whether members wait for a statement (none once the batch was given up on).
    var isWaiting: Bool {
        self.state.withLock { state in
            if case .givenUp = state.phase { return false }
            return state.members.values.contains(.waiting)
        }
    }

    /// After a cancel of ``Withdrawal/cancel(backend:of:)`` was delivered: waits `pause`, then returns
    /// whether the statement it was for still runs (PostgreSQL ignored it, having received it before the
    /// statement began): then it is to be sent again.
    func statementStillRuns(pause: Duration) async -> Bool {
        try? await Task.sleep(for: pause)
        return self.state.withLock { state in
            if case .running(_, cancelRequested: true) = state.phase { return true }
            return false
        }
    }

    /// A cancel of ``Withdrawal/cancel(backend:of:)`` is done. `delivered`: PostgreSQL answered it, or it
    /// was never sent; false when it may still reach the backend. `signalled`: it reached the backend.
    func cancelFinished(delivered: Bool, signalled: Bool) {
        let waiter: CheckedContinuation<Void, Never>? = self.state.withLock { state in
            state.cancelsInFlight -= 1
            if !delivered { state.cancelUndelivered = true }
            if signalled || !delivered { state.signalled = true }
            guard state.cancelsInFlight == 0 else { return nil }
            defer { state.cancelsWaiter = nil }
            return state.cancelsWaiter
        }
        waiter?.resume()
    }

    /// Waits until the cancels asked for are done. Returns true when the connection must be closed
    /// rather than given back: a cancel may still reach its backend.
    func cancelsSettled() async -> Bool {
        let settled: Bool? = self.state.withLock { state in
            guard state.cancelsInFlight == 0 else { return nil }
            defer { state.cancelUndelivered = false }
            return state.cancelUndelivered
        }
        if let settled { return settled }  // the common case: no cancel asked for
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = self.state.withLock { state in
                if state.cancelsInFlight == 0 { return true }
                state.cancelsWaiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
        return self.state.withLock { state in
            defer { state.cancelUndelivered = false }
            return state.cancelUndelivered
        }
    }
}
