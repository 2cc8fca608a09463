namespace Imagic.Tests;

public class NativeLogTests
{
    [Fact]
    public void QuietWarnings_RaisesLibTorchsLogThresholdToErrors()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("TORCH_CPP_LOG_LEVEL")))
        {
            Assert.False(NativeLog.QuietWarnings()); // the user's setting wins
            return;
        }

        Assert.True(NativeLog.QuietWarnings());

        Assert.Equal(2, NativeLog.Level());
    }
}
