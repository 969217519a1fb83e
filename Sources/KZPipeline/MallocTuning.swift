#if canImport(Glibc)
import Glibc
#endif

/// glibc malloc settings that keep the resident size of a long analysis near its live heap. Elsewhere, no-ops.
///
/// `mallopt` and `malloc_trim` are looked up at run time: Glibc's Swift module does not import `<malloc.h>`.
public enum MallocTuning {
    /// Fixes the mmap threshold at 128 KiB (its initial value; mallopt(3), M_MMAP_THRESHOLD). By default glibc raises
    /// the threshold to the size of every mmapped block that is freed (up to 32 MiB), so once a large array has grown
    /// and been released, later arrays of that size come from the heap, where freed ones leave holes that are never
    /// returned: on the 1 GiB reference capture `analyze` peaked 21 MiB higher (259 vs 238 MiB), in the same time.
    /// Setting the threshold explicitly turns the adjustment off. Call once, before the work starts.
    public static func fixMmapThreshold() {
        #if canImport(Glibc)
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        let mmapThreshold: Int32 = -3   // M_MMAP_THRESHOLD in <malloc.h>
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "mallopt") else { return }
        _ = unsafeBitCast(sym, to: MallOpt.self)(mmapThreshold, 128 * 1024)
        #endif
    }

    /// Returns the free pages inside the heap to the system (malloc_trim(3)). Closed flows free their state in small
    /// blocks all over the heap; glibc gives back only the top of the heap by itself, so without this the resident
    /// size keeps what the busiest moment needed while later flows fill new pages. `PipelineSink` calls it every 4096
    /// closed flows (a few milliseconds each; 1 GiB reference: 222.8 -> 211.5 MiB, same time).
    static func trim() {
        #if canImport(Glibc)
        _ = trimFunction?(0)
        #endif
    }

    #if canImport(Glibc)
    private typealias Trim = @convention(c) (Int) -> Int32
    private static let trimFunction: Trim? = {
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "malloc_trim") else { return nil }
        return unsafeBitCast(sym, to: Trim.self)
    }()
    #endif
}
