import RPCCore

/// A call in flight, as it can be interrupted.
enum RunningCall {
    case task(CallCancellation)
    case deferred(DeferredCall)

    func interrupt(_ reason: CallInterrupt) {
        switch self {
        case .task(let cancellation): cancellation.fire(reason)
        case .deferred(let call): call.interrupt(reason)
        }
    }
}
