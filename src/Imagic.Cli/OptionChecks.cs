using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;
using Imagic.Editing;
using Imagic.Pipelines;

namespace Imagic.Cli;

/// <summary>
/// Checks every command shares, all run before any folder is created or any step runs: strict numbers, η lists,
/// output locations and the memory a sampling request needs.
/// </summary>
internal static class OptionChecks
{
    /// <summary>
    /// Gives every numeric option of <paramref name="command"/> and its subcommands a strict parser: invariant
    /// culture, finite values only, and a one-line message that names the option and the text
    /// (<c>--seed must be an integer (got 'abc')</c>) instead of a .NET type name.
    /// </summary>
    public static void UseStrictNumbers(Command command)
    {
        foreach (var option in command.Options)
        {
            switch (option)
            {
                case Option<int> o: o.CustomParser = r => ParseInteger(r, o, int.MinValue, int.MaxValue, v => (int)v, o.DefaultValueFactory); break;
                case Option<int?> o: o.CustomParser = r => ParseInteger<int?>(r, o, int.MinValue, int.MaxValue, v => (int)v, o.DefaultValueFactory); break;
                case Option<long> o: o.CustomParser = r => ParseInteger(r, o, long.MinValue, long.MaxValue, v => (long)v, o.DefaultValueFactory); break;
                case Option<long?> o: o.CustomParser = r => ParseInteger<long?>(r, o, long.MinValue, long.MaxValue, v => (long)v, o.DefaultValueFactory); break;
                case Option<double> o: o.CustomParser = r => ParseNumber(r, o, v => v, o.DefaultValueFactory); break;
                case Option<double?> o: o.CustomParser = r => ParseNumber<double?>(r, o, v => v, o.DefaultValueFactory); break;
            }
        }
        foreach (var sub in command.Subcommands)
            UseStrictNumbers(sub);
    }

    static T? ParseInteger<T>(ArgumentResult result, Option option, BigInteger min, BigInteger max, Func<BigInteger, T> convert,
        Func<ArgumentResult, T>? defaultValue)
    {
        if (result.Tokens.Count == 0) return defaultValue is null ? default : defaultValue(result);
        string text = result.Tokens[0].Value;
        if (!BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            result.AddError($"{option.Name} must be an integer (got '{text}').");
            return default;
        }
        if (value < min || value > max)
        {
            result.AddError($"{option.Name} must be an integer between {min} and {max} (got '{text}').");
            return default;
        }
        return convert(value);
    }

    static T? ParseNumber<T>(ArgumentResult result, Option option, Func<double, T> convert, Func<ArgumentResult, T>? defaultValue)
    {
        if (result.Tokens.Count == 0) return defaultValue is null ? default : defaultValue(result);
        string text = result.Tokens[0].Value;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            result.AddError($"{option.Name} must be a number such as 0.5 or 2e-3 (got '{text}').");
            return default;
        }
        if (!double.IsFinite(value))
        {
            result.AddError($"{option.Name} must be a finite number (got '{text}').");
            return default;
        }
        return convert(value);
    }

    /// <summary>
    /// Reads a comma-separated list of numbers named <paramref name="what"/>, each in [<paramref name="min"/>,
    /// <paramref name="max"/>]. Refuses empty and duplicate items and non-numbers in one line that shows
    /// <paramref name="example"/>; points at the decimal point when the list looks like a decimal comma (<c>0,5</c>).
    /// </summary>
    public static double[] ParseNumbers(string text, Action<string> warn, string option, string what, double min, double max, string example)
    {
        var items = text.Split(',').Select(s => s.Trim()).ToArray();
        if (items.Any(s => s.Length == 0))
            throw new ImagicException($"{option} '{text}' has an empty item; write numbers separated by single commas, such as {example}.");
        var values = new double[items.Length];
        for (int i = 0; i < items.Length; i++)
            if (!double.TryParse(items[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                throw new ImagicException($"{option} must be comma-separated numbers such as {example}; got '{text}'.");
        // "0,5" in a locale that writes decimals with a comma means 0.5, but here it is the list 0, 5.
        bool decimalCommaLike = items.Length == 2 && !text.Contains('.') && items.All(s => s.All(char.IsAsciiDigit));
        string hint = decimalCommaLike ? $" If you meant {items[0]}.{items[1]}, write it with a decimal point: commas separate values." : "";
        string Show(double v) => v.ToString(CultureInfo.InvariantCulture);
        foreach (var v in values)
            if (!(v >= min && v <= max))
                throw new ImagicException($"{option}: {what} must be in [{Show(min)}, {Show(max)}], got {Show(v)}.{hint}");
        var twice = values.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw new ImagicException($"{option} lists {Show(twice.Key)} twice in '{text}'.{hint}");
        if (decimalCommaLike)
            warn($"{option} {text} is read as the two values {items[0]} and {items[1]}.{hint}");
        return values;
    }

    /// <summary>
    /// Reads a comma-separated η list. Refuses empty and duplicate items, non-numbers and values outside
    /// [0, <see cref="ImagicOptions.MaxEta"/>]; warns above 1; points at the decimal point when the list looks
    /// like a decimal comma (<c>0,5</c>).
    /// </summary>
    public static double[] ParseEtas(string text, Action<string> warn, string option = "--eta")
    {
        var values = ParseNumbers(text, warn, option, "η", 0, ImagicOptions.MaxEta, "0.6,0.7,0.8");
        foreach (var v in values.Where(v => v > 1))
            warn($"η {v.ToString(CultureInfo.InvariantCulture)} is above 1: the embedding is extrapolated beyond the target text (the paper uses 0.6 to 0.8).");
        return values;
    }

    /// <summary>
    /// Checks, creating nothing, that a PNG can be written at <paramref name="path"/>: a .png name, not an existing
    /// file unless <paramref name="force"/>, and a folder we may write in.
    /// </summary>
    public static string CheckOutputPng(string path, bool force)
    {
        if (!path.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new ImagicException($"--out must name a .png file, got '{path}'.");
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new ImagicException($"--out {full} is a folder; name a .png file.");
        if (File.Exists(full) && !force)
            throw new ImagicException($"{full} already exists; pass --force to overwrite it, or choose another --out.");
        CheckWritableFolder(Path.GetDirectoryName(full)!, full);
        return full;
    }

    /// <summary>Checks, creating nothing, that the folder <paramref name="dir"/> exists or can be created, and can be written to.</summary>
    public static void CheckOutputFolder(string dir, string option)
    {
        var full = Path.GetFullPath(dir);
        if (File.Exists(full))
            throw new ImagicException($"{option} {full} is a file, not a folder.");
        CheckWritableFolder(full, full);
    }

    static void CheckWritableFolder(string dir, string target)
    {
        var existing = dir;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing))
                throw new ImagicException($"Cannot write {target}: {existing} is a file.");
            existing = Path.GetDirectoryName(existing) ?? throw new ImagicException($"Cannot write {target}: no such folder.");
        }
        var probe = Path.Combine(existing, $".imagic-write-test-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImagicException($"Cannot write {target}: the folder {existing} is not writable.", e);
        }
    }

    /// <summary>The option that skips <see cref="CheckMemory"/>.</summary>
    public const string IgnoreMemoryOption = "--ignore-memory-estimate";

    /// <summary>Refuses a sampling request whose estimated memory (<see cref="SamplingMemory"/>) exceeds this machine's.</summary>
    public static void CheckMemory(StableDiffusionPipeline pipe, int height, int width, bool guided, bool ignore)
    {
        if (ignore) return;
        long needed = SamplingMemory.EstimateBytes(pipe, height, width, guided);
        long machine = SamplingMemory.MachineBytes;
        if (needed > machine)
            throw new ImagicException($"A {width}x{height} image needs about {SamplingMemory.Format(needed)} with this model by a rough estimate, " +
                $"more than this machine's {SamplingMemory.Format(machine)}. Choose a smaller --width/--height, or pass {IgnoreMemoryOption} if you know better.");
    }
}
