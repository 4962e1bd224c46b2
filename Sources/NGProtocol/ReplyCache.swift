/// Replies kept by cookie so that a retransmitted request (same client, same cookie) gets the
/// same reply and is not executed twice, as rtpengine's clients expect. Nodes also keep the replies
/// to requests forwarded to them, keyed by forwarding node and request id.
public struct ReplyCache<Reply> {
    /// How long a reply is kept; clients retransmit for a few seconds at most.
    let lifetimeNanos: UInt64
    /// The most replies kept; the oldest go first.
    let capacity: Int
    private var replies: [Key: Reply] = [:]
    private var order: [(key: Key, storedAt: UInt64)] = []
    private var orderStart = 0

    struct Key: Hashable {
        var client: String
        var cookie: String
    }

    public init(lifetimeNanos: UInt64 = 30_000_000_000, capacity: Int = 65536) {
        self.lifetimeNanos = lifetimeNanos
        self.capacity = capacity
    }

    public func reply(client: String, cookie: String) -> Reply? {
        replies[Key(client: client, cookie: cookie)]
    }

    public mutating func store(_ reply: Reply, client: String, cookie: String, now: UInt64) {
        expire(now: now)
        let key = Key(client: client, cookie: cookie)
        if replies.updateValue(reply, forKey: key) == nil { order.append((key, now)) }
        while replies.count > capacity { evictOldest() }
    }

    private mutating func expire(now: UInt64) {
        while orderStart < order.count, now - order[orderStart].storedAt >= lifetimeNanos { evictOldest() }
        if orderStart > 1024, orderStart * 2 > order.count {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }

    private mutating func evictOldest() {
        guard orderStart < order.count else { return }
        replies[order[orderStart].key] = nil
        orderStart += 1
    }
}
