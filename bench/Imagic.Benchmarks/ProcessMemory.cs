namespace Imagic.Benchmarks;

/// <summary>This process's memory as Linux reports it in <c>/proc</c>; every reader returns 0 where /proc is not available.</summary>
public static class ProcessMemory
{
    /// <summary>Peak resident set size (VmHWM) of this process, in MB.</summary>
    public static double PeakResidentMegabytes() => Kilobytes("/proc/self/status", "VmHWM:") / 1024.0;

    /// <summary>Current resident set size (VmRSS) of this process, in MB.</summary>
    public static double ResidentMegabytes() => Kilobytes("/proc/self/status", "VmRSS:") / 1024.0;

    /// <summary>
    /// Resets the peak (VmHWM) to the current resident set, so that a later <see cref="PeakResidentMegabytes"/> is the peak
    /// since now: writes 5 to <c>/proc/self/clear_refs</c> (Linux 4.0 and later). Returns false where that is not possible.
    /// </summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The machine's physical memory (MemTotal), in GB.</summary>
    public static double TotalGigabytes() => Kilobytes("/proc/meminfo", "MemTotal:") / 1048576.0;

    /// <summary>The memory the machine can give without swapping (MemAvailable), in GB.</summary>
    public static double AvailableGigabytes() => Kilobytes("/proc/meminfo", "MemAvailable:") / 1048576.0;

    /// <summary>A "Key:\t  1234 kB" line's number. The padding is tabs and spaces, and shrinks to one tab for wide numbers.</summary>
    static double Kilobytes(string file, string key)
    {
        try
        {
            var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
            if (line is null) return 0;
            var fields = line[key.Length..].Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            return double.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
