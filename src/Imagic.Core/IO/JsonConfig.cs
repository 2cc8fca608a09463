using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Imagic.IO;

/// <summary>
/// Reads diffusers/transformers JSON config files and their values with strict typing: a value of the
/// wrong type is an error naming the file and key, never a silent default.
/// </summary>
/// <remarks>
/// Absent keys and explicit <c>null</c> values both mean "use the default", as in diffusers' config
/// loading (<c>ConfigMixin</c>), where <c>null</c> stands for "not set".
/// </remarks>
public static class JsonConfig
{
    // A JsonObject cannot carry the name of the file it came from, yet every type error must name it.
    // This table only remembers that association for objects read by ReadObject; it is weakly keyed
    // (entries die with their objects) and never changes what any getter returns.
    static readonly ConditionalWeakTable<JsonObject, string> _sources = new();

    /// <summary>
    /// Reads a JSON file whose root must be an object. <paramref name="what"/> (e.g. "UNet config") is
    /// used in error messages. Throws <see cref="ImagicException"/> when the file is missing or not a JSON object.
    /// </summary>
    public static JsonObject ReadObject(string path, string what)
    {
        if (!File.Exists(path))
            throw new ImagicException($"The {what} file is missing: {path}");
        JsonNode? node;
        try
        {
            var options = new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };
            node = JsonNode.Parse(File.ReadAllText(path), documentOptions: options);
        }
        catch (JsonException e)
        {
            throw new ImagicException($"The {what} file {path} is not valid JSON: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImagicException($"Cannot read the {what} file {path}: {e.Message}", e);
        }
        if (node is not JsonObject obj)
            throw new ImagicException($"The {what} file {path} must hold a JSON object {{...}} but holds {Describe(node)}.");
        _sources.AddOrUpdate(obj, path);
        return obj;
    }

    /// <summary>The file <paramref name="obj"/> was read from, or "config" when it was built in memory.</summary>
    public static string SourceOf(JsonObject obj) =>
        _sources.TryGetValue(obj, out var path) ? path : "config";

    /// <summary>An integer value; <paramref name="default"/> when the key is absent or null. Integral floats such as 2.0 are accepted.</summary>
    public static int GetInt(JsonObject obj, string key, int @default) =>
        TryGet(obj, key) is { } v ? ToInt(obj, key, v) : @default;

    /// <summary>An integer value that must be present.</summary>
    public static int RequireInt(JsonObject obj, string key) => ToInt(obj, key, Require(obj, key));

    /// <summary>A number; <paramref name="default"/> when the key is absent or null. Integers are accepted.</summary>
    public static double GetDouble(JsonObject obj, string key, double @default) =>
        TryGet(obj, key) is { } v ? ToDouble(obj, key, v) : @default;

    /// <summary>A number that must be present.</summary>
    public static double RequireDouble(JsonObject obj, string key) => ToDouble(obj, key, Require(obj, key));

    /// <summary>A JSON <c>true</c>/<c>false</c>; <paramref name="default"/> when absent or null. Strings such as "true" are rejected.</summary>
    public static bool GetBool(JsonObject obj, string key, bool @default)
    {
        if (TryGet(obj, key) is not { } v)
            return @default;
        return v.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(obj, key, v, "true or false"),
        };
    }

    /// <summary>A string; <paramref name="default"/> when absent or null.</summary>
    public static string? GetString(JsonObject obj, string key, string? @default = null) =>
        TryGet(obj, key) is { } v ? ToStringValue(obj, key, v) : @default;

    /// <summary>A string that must be present.</summary>
    public static string RequireString(JsonObject obj, string key) => ToStringValue(obj, key, Require(obj, key));

    /// <summary>
    /// A list of integers, or null when absent or null. A single integer is returned as a one-element
    /// list, because diffusers lets some keys (e.g. <c>attention_head_dim</c>) be either; callers that
    /// need one value per block broadcast it.
    /// </summary>
    public static int[]? GetIntList(JsonObject obj, string key)
    {
        if (TryGet(obj, key) is not { } v)
            return null;
        if (v is JsonArray array)
            return array.Select((item, i) => item is null
                ? throw WrongType(obj, $"{key}[{i}]", item, "an integer")
                : ToInt(obj, $"{key}[{i}]", item)).ToArray();
        return [ToInt(obj, key, v)];
    }

    /// <summary>A list of strings (e.g. <c>down_block_types</c>), or null when absent or null.</summary>
    public static string[]? GetStringList(JsonObject obj, string key)
    {
        if (TryGet(obj, key) is not { } v)
            return null;
        if (v is not JsonArray array)
            throw WrongType(obj, key, v, "a list of strings");
        return array.Select((item, i) => item is null
            ? throw WrongType(obj, $"{key}[{i}]", item, "a string")
            : ToStringValue(obj, $"{key}[{i}]", item)).ToArray();
    }

    static JsonNode? TryGet(JsonObject obj, string key) => obj.TryGetPropertyValue(key, out var v) ? v : null;

    static JsonNode Require(JsonObject obj, string key) =>
        TryGet(obj, key) ?? throw new ImagicException($"{SourceOf(obj)}: the required key \"{key}\" is missing or null.");

    static int ToInt(JsonObject obj, string key, JsonNode v)
    {
        if (v is JsonValue value && v.GetValueKind() == JsonValueKind.Number)
        {
            if (value.TryGetValue<int>(out var i))
                return i;
            // JSON writers such as Python's json may emit 1.0 for an integer setting.
            if (value.TryGetValue<double>(out var d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
                return (int)d;
        }
        throw WrongType(obj, key, v, "an integer");
    }

    static double ToDouble(JsonObject obj, string key, JsonNode v)
    {
        if (v is JsonValue value && v.GetValueKind() == JsonValueKind.Number && value.TryGetValue<double>(out var d))
            return d;
        throw WrongType(obj, key, v, "a number");
    }

    static string ToStringValue(JsonObject obj, string key, JsonNode v)
    {
        if (v is JsonValue value && v.GetValueKind() == JsonValueKind.String && value.TryGetValue<string>(out var s))
            return s;
        throw WrongType(obj, key, v, "a string");
    }

    static ImagicException WrongType(JsonObject obj, string key, JsonNode? v, string expected) =>
        new($"{SourceOf(obj)}: \"{key}\" must be {expected} but is {Describe(v)}.");

    static string Describe(JsonNode? v)
    {
        if (v is null)
            return "null";
        string text = v.ToJsonString();
        if (text.Length > 60)
            text = text[..57] + "...";
        string kind = v.GetValueKind() switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "a list",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "a value",
        };
        return $"{kind} ({text})";
    }
}
