using System.Text.Json.Nodes;
using Imagic.IO;

namespace Imagic.Tests.IO;

public class JsonConfigTests
{
    static JsonObject Read(string json)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "config.json");
        File.WriteAllText(path, json);
        return JsonConfig.ReadObject(path, "test config");
    }

    [Fact]
    public void Getters_AbsentOrNullKeys_ReturnTheDefault()
    {
        var config = Read("""{"num_class_embeds": null}""");

        Assert.Equal(7, JsonConfig.GetInt(config, "num_class_embeds", 7));
        Assert.Equal(0.5, JsonConfig.GetDouble(config, "absent", 0.5));
        Assert.True(JsonConfig.GetBool(config, "absent", true));
        Assert.Equal("x", JsonConfig.GetString(config, "absent", "x"));
        Assert.Null(JsonConfig.GetIntList(config, "num_class_embeds"));
    }

    [Fact]
    public void Getters_PresentKeys_ReturnTheirValues()
    {
        var config = Read("""{"a": 3, "b": 2.0, "c": 1e-5, "d": false, "e": "silu", "f": ["A", "B"]}""");

        Assert.Equal(3, JsonConfig.GetInt(config, "a", 0));
        Assert.Equal(2, JsonConfig.RequireInt(config, "b")); // Python may write 2.0 for an int
        Assert.Equal(1e-5, JsonConfig.GetDouble(config, "c", 0));
        Assert.Equal(3.0, JsonConfig.GetDouble(config, "a", 0));
        Assert.False(JsonConfig.GetBool(config, "d", true));
        Assert.Equal("silu", JsonConfig.RequireString(config, "e"));
        Assert.Equal(new[] { "A", "B" }, JsonConfig.GetStringList(config, "f"));
    }

    [Fact]
    public void GetIntList_AcceptsASingleIntOrAList()
    {
        var config = Read("""{"single": 8, "list": [5, 10, 20]}""");

        Assert.Equal(new[] { 8 }, JsonConfig.GetIntList(config, "single"));
        Assert.Equal(new[] { 5, 10, 20 }, JsonConfig.GetIntList(config, "list"));
    }

    [Theory]
    [InlineData("""{"k": "8"}""")]
    [InlineData("""{"k": 2.5}""")]
    [InlineData("""{"k": true}""")]
    [InlineData("""{"k": [1, 2]}""")]
    public void GetInt_WrongType_FailsNamingFileAndKey(string json)
    {
        var config = Read(json);

        var e = Assert.Throws<ImagicException>(() => JsonConfig.GetInt(config, "k", 0));

        Assert.Contains(JsonConfig.SourceOf(config), e.Message);
        Assert.EndsWith("config.json", JsonConfig.SourceOf(config));
        Assert.Contains("\"k\"", e.Message);
        Assert.Contains("integer", e.Message);
    }

    [Fact]
    public void GetIntList_WrongElementType_NamesTheElement()
    {
        var config = Read("""{"attention_head_dim": [8, "x"]}""");

        var e = Assert.Throws<ImagicException>(() => JsonConfig.GetIntList(config, "attention_head_dim"));

        Assert.Contains("attention_head_dim[1]", e.Message);
    }

    [Fact]
    public void GetBool_String_IsRejected()
    {
        var config = Read("""{"flag": "true"}""");

        Assert.Throws<ImagicException>(() => JsonConfig.GetBool(config, "flag", false));
    }

    [Fact]
    public void RequireInt_MissingKey_FailsNamingIt()
    {
        var config = Read("{}");

        var e = Assert.Throws<ImagicException>(() => JsonConfig.RequireInt(config, "in_channels"));

        Assert.Contains("\"in_channels\"", e.Message);
    }

    [Fact]
    public void ReadObject_RootNotAnObject_Fails()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "list.json");
        File.WriteAllText(path, "[1, 2]");

        var e = Assert.Throws<ImagicException>(() => JsonConfig.ReadObject(path, "test config"));

        Assert.Contains(path, e.Message);
        Assert.Contains("JSON object", e.Message);
    }
}
