using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.IO;

/// <summary>Element types of the safetensors format that this project reads and writes.</summary>
public enum SafeTensorsDType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL }

/// <summary>Where one tensor lives in a safetensors file.</summary>
/// <param name="Begin">Byte offset of the data, relative to the end of the header.</param>
/// <param name="End">Exclusive end offset, relative to the end of the header.</param>
public sealed record SafeTensorsEntry(string Name, SafeTensorsDType DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A safetensors file opened for reading: the header is parsed and validated up front, tensors are
/// read one at a time straight from the file, so a multi-GB checkpoint never needs twice its size in memory.
/// </summary>
/// <remarks>
/// Format (huggingface/safetensors): 8-byte little-endian header length N, N bytes of JSON
/// <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}</c>, then the raw
/// little-endian data. Validation follows the reference implementation: every range lies inside the
/// data section, ranges do not overlap, and each range holds exactly shape × element size bytes.
/// </remarks>
public sealed class SafeTensorsFile : IDisposable
{
    const long MaxHeaderBytes = 100_000_000; // the reference implementation's limit
    const int CopyBufferBytes = 1 << 20;

    readonly FileStream _stream;
    readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafeTensorsFile(string path, FileStream stream, long dataStart,
        Dictionary<string, SafeTensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        _stream = stream;
        _dataStart = dataStart;
        Entries = entries;
        Metadata = metadata;
    }

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="ImagicException"/> naming the problem.</summary>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path))
            throw new ImagicException($"Weights file not found: {path}");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            var (dataStart, entries, metadata) = ReadHeader(path, stream);
            return new SafeTensorsFile(path, stream, dataStart, entries, metadata);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    static (long, Dictionary<string, SafeTensorsEntry>, Dictionary<string, string>) ReadHeader(string path, FileStream stream)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw Corrupt(path, $"the file is {fileLength} bytes, too short to hold a header");
        Span<byte> lenBytes = stackalloc byte[8];
        stream.ReadExactly(lenBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > fileLength - 8)
            throw Corrupt(path, $"the header claims {headerLength} bytes but the file holds {fileLength - 8} after the length field (truncated or not a safetensors file)");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);

        JsonDocument doc;
        try { doc = JsonDocument.Parse(headerBytes); }
        catch (JsonException e) { throw Corrupt(path, $"the header is not valid JSON ({e.Message})"); }

        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;
        var entries = new Dictionary<string, SafeTensorsEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Corrupt(path, "the header is not a JSON object");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind == JsonValueKind.Object)
                        foreach (var m in prop.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                entries[prop.Name] = ParseEntry(path, prop.Name, prop.Value, dataLength);
            }
        }

        // Ranges must tile without overlap (gaps are tolerated, as by the reference reader's consumers).
        long previousEnd = 0;
        string? previousName = null;
        foreach (var e in entries.Values.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < previousEnd)
                throw Corrupt(path, $"tensor '{e.Name}' [{e.Begin}, {e.End}) overlaps tensor '{previousName}' ending at {previousEnd}");
            previousEnd = e.End;
            previousName = e.Name;
        }
        return (dataStart, entries, metadata);
    }

    static SafeTensorsEntry ParseEntry(string path, string name, JsonElement value, long dataLength)
    {
        try
        {
            string dtypeText = value.GetProperty("dtype").GetString() ?? "";
            if (!Enum.TryParse<SafeTensorsDType>(dtypeText, ignoreCase: false, out var dtype))
                throw Corrupt(path, $"tensor '{name}' has unsupported dtype '{dtypeText}' (supported: {string.Join(", ", Enum.GetNames<SafeTensorsDType>())})");
            var shape = value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (shape.Any(d => d < 0))
                throw Corrupt(path, $"tensor '{name}' has a negative dimension in shape [{string.Join(", ", shape)}]");
            var offsets = value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (offsets.Length != 2)
                throw Corrupt(path, $"tensor '{name}' has {offsets.Length} data_offsets, expected 2");
            var entry = new SafeTensorsEntry(name, dtype, shape, offsets[0], offsets[1]);
            if (entry.Begin < 0 || entry.End < entry.Begin)
                throw Corrupt(path, $"tensor '{name}' has invalid data_offsets [{entry.Begin}, {entry.End}]");
            if (entry.End > dataLength)
                throw Corrupt(path, $"tensor '{name}' ends at byte {entry.End} but the data section holds only {dataLength} bytes (the file is truncated)");
            long expected = checked(entry.ElementCount * ElementSize(dtype));
            if (entry.ByteLength != expected)
                throw Corrupt(path, $"tensor '{name}' of shape [{string.Join(", ", shape)}] and dtype {dtype} needs {expected} bytes but its data_offsets span {entry.ByteLength}");
            return entry;
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw Corrupt(path, $"tensor '{name}' has a malformed header entry ({e.Message})");
        }
    }

    static ImagicException Corrupt(string path, string why) => new($"Corrupt safetensors file {path}: {why}.");

    public bool Contains(string name) => Entries.ContainsKey(name);

    /// <summary>
    /// Reads one tensor. Floating-point data is converted to <paramref name="floatType"/> (float32 by
    /// default, as diffusers loads on CPU); integer and bool tensors keep their type.
    /// </summary>
    public Tensor Read(string name, ScalarType floatType = ScalarType.Float32)
    {
        if (!Entries.TryGetValue(name, out var entry))
            throw new ImagicException($"Tensor '{name}' is not in {Path}.");
        var stored = ToScalarType(entry.DType);
        var tensor = torch.empty(entry.Shape, dtype: stored);
        if (entry.ByteLength > 0)
        {
            _stream.Seek(_dataStart + entry.Begin, SeekOrigin.Begin);
            tensor.ReadBytesFromStream(_stream, (int)Math.Min(CopyBufferBytes, Math.Max(entry.ByteLength, 1)));
        }
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported.");
        if (torch.is_floating_point(tensor) && stored != floatType)
        {
            var converted = tensor.to_type(floatType);
            tensor.Dispose();
            return converted;
        }
        return tensor;
    }

    /// <summary>Reads every tensor into a dictionary. Fine for small files; prefer <see cref="Read"/> for large ones.</summary>
    public Dictionary<string, Tensor> ReadAll(ScalarType floatType = ScalarType.Float32) =>
        Entries.Keys.ToDictionary(k => k, k => Read(k, floatType), StringComparer.Ordinal);

    public void Dispose() => _stream.Dispose();

    internal static int ElementSize(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F64 or SafeTensorsDType.I64 => 8,
        SafeTensorsDType.F32 or SafeTensorsDType.I32 => 4,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.I16 => 2,
        _ => 1,
    };

    internal static ScalarType ToScalarType(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F32 => ScalarType.Float32,
        SafeTensorsDType.F16 => ScalarType.Float16,
        SafeTensorsDType.BF16 => ScalarType.BFloat16,
        SafeTensorsDType.F64 => ScalarType.Float64,
        SafeTensorsDType.I64 => ScalarType.Int64,
        SafeTensorsDType.I32 => ScalarType.Int32,
        SafeTensorsDType.I16 => ScalarType.Int16,
        SafeTensorsDType.I8 => ScalarType.Int8,
        SafeTensorsDType.U8 => ScalarType.Byte,
        SafeTensorsDType.BOOL => ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    internal static SafeTensorsDType FromScalarType(ScalarType type) => type switch
    {
        ScalarType.Float32 => SafeTensorsDType.F32,
        ScalarType.Float16 => SafeTensorsDType.F16,
        ScalarType.BFloat16 => SafeTensorsDType.BF16,
        ScalarType.Float64 => SafeTensorsDType.F64,
        ScalarType.Int64 => SafeTensorsDType.I64,
        ScalarType.Int32 => SafeTensorsDType.I32,
        ScalarType.Int16 => SafeTensorsDType.I16,
        ScalarType.Int8 => SafeTensorsDType.I8,
        ScalarType.Byte => SafeTensorsDType.U8,
        ScalarType.Bool => SafeTensorsDType.BOOL,
        _ => throw new ImagicException($"Tensors of type {type} cannot be stored in safetensors by this project."),
    };
}

/// <summary>Convenience entry points: load a whole file, save a set of tensors atomically.</summary>
public static class SafeTensors
{
    /// <summary>Loads every tensor of a (small) file; floating-point data becomes <paramref name="floatType"/>.</summary>
    public static Dictionary<string, Tensor> Load(string path, ScalarType floatType = ScalarType.Float32)
    {
        using var file = SafeTensorsFile.Open(path);
        return file.ReadAll(floatType);
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> in safetensors format, sorted by name. The file is written
    /// beside the target and renamed over it, so a crash never leaves a half-written file.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 })
            header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, t) in items)
        {
            var dtype = SafeTensorsFile.FromScalarType(t.dtype);
            long bytes = t.numel() * SafeTensorsFile.ElementSize(dtype);
            header[name] = new { dtype = dtype.ToString(), shape = t.shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        // Pad the header with spaces to an 8-byte boundary, as the reference writer does, so data is aligned.
        int padded = (json.Length + 7) / 8 * 8;
        var headerBytes = new byte[padded];
        json.CopyTo(headerBytes, 0);
        for (int i = json.Length; i < padded; i++) headerBytes[i] = (byte)' ';

        AtomicFile.Write(path, stream =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            stream.Write(len);
            stream.Write(headerBytes);
            foreach (var (_, t) in items)
            {
                using var contiguous = t.detach().cpu().contiguous();
                contiguous.WriteBytesToStream(stream, 1 << 20);
            }
        });
    }
}
