using System.Text.Json;
using System.Text.Json.Serialization;

namespace Imagic.Models;

/// <summary>Reads the diffusers/transformers <c>config.json</c> files into the config records.</summary>
internal static class ModelConfigJson
{
    static readonly JsonSerializerOptions Options = new()
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        Converters = { new IntOrListConverter() },
    };

    static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        Converters = { new IntOrListConverter() },
        // Computed helpers (DownsampleFactor) are not config keys. Getter-only arrays are still
        // written, so those (HeadsPerBlock) carry [JsonIgnore] themselves.
        IgnoreReadOnlyProperties = true,
    };

    public static T Read<T>(string path)
    {
        if (!File.Exists(path))
            throw new ImagicException($"Model config not found: {path}");
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options)
                ?? throw new ImagicException($"Model config {path} is empty.");
        }
        catch (JsonException e)
        {
            throw new ImagicException($"Model config {path} is not valid: {e.Message}", e);
        }
    }

    public static string Write<T>(T config) => JsonSerializer.Serialize(config, WriteOptions);

    /// <summary>Adds the class marker diffusers (<c>_class_name</c>) or transformers (<c>architectures</c>) expects.</summary>
    public static string WithClassName(string json, string className, string key = "_class_name")
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        if (key == "architectures")
        {
            node.Insert(0, key, new System.Text.Json.Nodes.JsonArray(className));
            node["model_type"] = "clip_text_model";
        }
        else
            node.Insert(0, key, className);
        return node.ToJsonString(WriteOptions);
    }
}

/// <summary>
/// An int-or-list config value, as diffusers allows for <c>attention_head_dim</c> (8 in SD 1.x,
/// [5, 10, 20, 20] in SD 2.x) and <c>transformer_layers_per_block</c>.
/// </summary>
[JsonConverter(typeof(IntOrListConverter))]
public sealed record IntOrList(int[] Values)
{
    public static implicit operator IntOrList(int value) => new(new[] { value });

    /// <summary>One value per block: a single value is repeated, a list must have one per block.</summary>
    public int[] PerBlock(int blocks, string key)
    {
        if (Values.Length == 1) return Enumerable.Repeat(Values[0], blocks).ToArray();
        if (Values.Length != blocks)
            throw new ImagicException($"Config key '{key}' lists {Values.Length} values but the model has {blocks} blocks.");
        return Values;
    }
}

internal sealed class IntOrListConverter : JsonConverter<IntOrList>
{
    public override IntOrList Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number)
            return new IntOrList(new[] { reader.GetInt32() });
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new JsonException("expected an integer or a list of integers");
        var values = new List<int>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            values.Add(reader.GetInt32());
        return new IntOrList(values.ToArray());
    }

    public override void Write(Utf8JsonWriter writer, IntOrList value, JsonSerializerOptions options)
    {
        if (value.Values.Length == 1) { writer.WriteNumberValue(value.Values[0]); return; }
        writer.WriteStartArray();
        foreach (var v in value.Values) writer.WriteNumberValue(v);
        writer.WriteEndArray();
    }
}
