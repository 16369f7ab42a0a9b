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
/// The connection a statement ran on is given back only once the cancels asked for during it are
/// done (``cancelsSettled()``), so that a cancel never reaches a later statement on that connection.
final class BatchWrite: Sendable {
    typealias Item = GroupCommitQueue.Item

    /// What the store does for a withdrawal.
    enum Withdrawal: Sendable {
        case none
        /// Answer the item CANCELLED: it is in no statement, and will be in none.
        case answer(Item)
        /// Ask PostgreSQL to cancel the statement that `backend` (a process id) runs for `batch`; then
        /// ``cancelFinished(delivered:)``.
        case cancel(backend: Int32, of: BatchWrite)
    }

    /// How a statement of the batch ended.
    enum StatementEnd: Sendable {
        /// Committed: its members are answered.
        case committed
        /// Stopped by the cancel the batch asked for: nothing written; the members withdrawn are
        /// answered CANCELLED, the others wait for the next statement.
        case stoppedByCancel
        /// Failed otherwise: the caller fails the batch (``fail(_:)``).
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
        case running(backend: Int32, cancelRequested: Bool)
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
    func begin(backend: Int32) -> [Item]? {
        self.state.withLock { state in
            guard case .idle = state.phase else { return nil }
            let members = self.items.filter { state.members[$0.id] == .waiting }
            guard !members.isEmpty else { return [] }
            for member in members { state.members[member.id] = .writing }
            state.phase = .running(backend: backend, cancelRequested: false)
            return members
        }
    }

    /// The statement of ``begin(backend:)`` ended with `result` (the ids found), or with a failure,
    /// `queryCanceled` when PostgreSQL stopped it (SQLSTATE 57014). Answers the members it decides.
    func statementEnded(_ result: Result<Set<Int64>, any Error>, queryCanceled: Bool) -> StatementEnd {
        let (end, answers): (StatementEnd, [(Item, Result<Void, FeedbackError>)]) = self.state.withLock { state in
            let cancelRequested: Bool
            switch state.phase {
            case .running(_, let requested):
                cancelRequested = requested
                state.phase = .idle
            case .idle, .givenUp:
                cancelRequested = false
            }
            var answers: [(Item, Result<Void, FeedbackError>)] = []
            switch result {
            case .success(let found):
                for item in self.items where [.writing, .withdrawnWhileWriting].contains(state.members[item.id]) {
                    state.members[item.id] = .answered
                    let id = item.submission.interactionID
                    answers.append((item, found.contains(id) ? .success(()) : .failure(.interactionNotFound(id))))
                }
                return (.committed, answers)
            case .failure where queryCanceled && cancelRequested:
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
                return (.stoppedByCancel, answers)
            case .failure(let error):
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

    /// Answers every member not answered yet with `error`, and starts no statement from now on: the
    /// store gave up on the batch, or its statement failed.
    func fail(_ error: FeedbackError) {
        let failed: [Item] = self.state.withLock { state in
            state.phase = .givenUp
            return self.items.filter { item in
                guard state.members[item.id] != .answered else { return false }
                state.members[item.id] = .answered
                return true
            }
        }
        for item in failed { item.complete(.failure(error)) }
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
    /// was never sent; false when it may still reach the backend.
    func cancelFinished(delivered: Bool) {
        let waiter: CheckedContinuation<Void, Never>? = self.state.withLock { state in
            state.cancelsInFlight -= 1
            if !delivered { state.cancelUndelivered = true }
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
