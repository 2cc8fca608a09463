using Imagic.IO;
using TorchSharp;

namespace Imagic.Tests.IO;

public class LegacyKeysTests
{
    [Theory]
    [InlineData("encoder.mid_block.attentions.0.query.weight", "encoder.mid_block.attentions.0.to_q.weight")]
    [InlineData("encoder.mid_block.attentions.0.key.bias", "encoder.mid_block.attentions.0.to_k.bias")]
    [InlineData("decoder.mid_block.attentions.0.value.weight", "decoder.mid_block.attentions.0.to_v.weight")]
    [InlineData("decoder.mid_block.attentions.0.proj_attn.bias", "decoder.mid_block.attentions.0.to_out.0.bias")]
    public void RemapVae_LegacyAttentionName_BecomesCurrentName(string legacy, string current)
    {
        using var value = torch.zeros(8);

        var (key, mapped) = LegacyKeys.RemapVae(legacy, value);

        Assert.Equal(current, key);
        Assert.Same(value, mapped);
    }

    [Theory]
    [InlineData("decoder.mid_block.attentions.0.group_norm.weight")]
    [InlineData("decoder.mid_block.attentions.0.to_q.bias")]
    [InlineData("decoder.up_blocks.0.resnets.1.conv1.weight")]
    [InlineData("encoder.conv_in.weight")]
    [InlineData("query.weight")]
    public void RemapVae_OtherKeys_PassThroughUnchanged(string key)
    {
        using var value = torch.zeros(8);

        var (mapped, tensor) = LegacyKeys.RemapVae(key, value);

        Assert.Equal(key, mapped);
        Assert.Same(value, tensor);
    }

    [Theory]
    [InlineData("encoder.mid_block.attentions.0.query.weight", "encoder.mid_block.attentions.0.to_q.weight")]
    [InlineData("decoder.mid_block.attentions.0.proj_attn.weight", "decoder.mid_block.attentions.0.to_out.0.weight")]
    [InlineData("decoder.mid_block.attentions.0.to_v.weight", "decoder.mid_block.attentions.0.to_v.weight")]
    [InlineData("decoder.mid_block.attentions.0.to_out.0.weight", "decoder.mid_block.attentions.0.to_out.0.weight")]
    public void RemapVae_ConvShapedProjectionWeight_IsReshapedTo2D(string stored, string current)
    {
        // Given a 1x1 convolution weight [out, in, 1, 1]
        using var conv = TensorExtensions.Arange(6 * 4, torch.float32).reshape(6, 4, 1, 1);

        // When it is remapped
        var (key, value) = LegacyKeys.RemapVae(stored, conv);

        // Then it becomes the equivalent linear weight [out, in] with the same values
        Assert.Equal(current, key);
        Assert.Equal(new long[] { 6, 4 }, value.shape);
        Assert.True(value.eq(conv.reshape(6, 4)).all().item<bool>());
    }

    [Fact]
    public void RemapVae_ConvShapedNonProjectionWeight_KeepsItsShape()
    {
        using var conv = torch.zeros(6, 4, 1, 1);

        var (_, value) = LegacyKeys.RemapVae("decoder.mid_block.resnets.0.conv_shortcut.weight", conv);

        Assert.Equal(new long[] { 6, 4, 1, 1 }, value.shape);
    }
}
