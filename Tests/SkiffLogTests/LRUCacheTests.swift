import SkiffLog
import SkiffRaft
import Testing

@Suite struct LRUCacheTests {
    /// Against a simple reference model (an ordered list), random operations give the same contents, and the
    /// weight never exceeds the bound.
    @Test func matchesReferenceModel() {
        var generator = SeededRandom(seed: 11)
        var cache = LRUCache<Int, Int>(weightMax: 50)
        var model: [(key: Int, weight: Int)] = []  // most recent last
        for _ in 0..<20_000 {
            let key = Int(generator.next() % 20)
            switch generator.next() % 3 {
            case 0:
                let weight = Int(generator.next() % 12)
                cache.insert(key * 10, for: key, weight: weight)
                model.removeAll { $0.key == key }
                if weight <= 50 {
                    while model.reduce(0, { $0 + $1.weight }) + weight > 50 { model.removeFirst() }
                    model.append((key, weight))
                }
            case 1:
                let found = cache.value(for: key)
                let position = model.firstIndex { $0.key == key }
                #expect((found != nil) == (position != nil))
                if let position {
                    #expect(found == key * 10)
                    model.append(model.remove(at: position))
                }
            default:
                cache.removeValue(for: key)
                model.removeAll { $0.key == key }
            }
            #expect(cache.weight <= 50)
            #expect(cache.count == model.count)
        }
    }
}
