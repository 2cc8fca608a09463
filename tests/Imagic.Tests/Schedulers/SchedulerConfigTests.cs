using Imagic.Schedulers;

namespace Imagic.Tests.Schedulers;

public class SchedulerConfigTests
{
    static string TinyConfigPath => Path.Combine(TestPaths.TinySd1, "scheduler", "scheduler_config.json");

    static string WriteConfig(string json)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "scheduler_config.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void FromFile_TinySd1_ReadsStableDiffusionValues()
    {
        var config = SchedulerConfig.FromFile(TinyConfigPath);

        Assert.Equal(1000, config.NumTrainTimesteps);
        Assert.Equal(0.00085, config.BetaStart);
        Assert.Equal(0.012, config.BetaEnd);
        Assert.Equal(BetaSchedule.ScaledLinear, config.BetaSchedule);
        Assert.Null(config.TrainedBetas);
        Assert.Equal(PredictionType.Epsilon, config.PredictionType);
        Assert.False(config.ClipSample);
        Assert.False(config.SetAlphaToOne);
        Assert.Equal(1, config.StepsOffset);
        Assert.Equal(TimestepSpacing.Leading, config.TimestepSpacing);
        Assert.False(config.Thresholding);
        Assert.False(config.RescaleBetasZeroSnr);
    }

    [Fact]
    public void FromFile_SnakeCaseEnumValues_ParseToEnums()
    {
        var path = WriteConfig("""
            { "beta_schedule": "squaredcos_cap_v2", "prediction_type": "v_prediction",
              "timestep_spacing": "trailing", "some_future_key": [1, 2] }
            """);

        var config = SchedulerConfig.FromFile(path);

        Assert.Equal(BetaSchedule.SquaredcosCapV2, config.BetaSchedule);
        Assert.Equal(PredictionType.VPrediction, config.PredictionType);
        Assert.Equal(TimestepSpacing.Trailing, config.TimestepSpacing);
    }

    [Fact]
    public void FromFile_EmptyObject_UsesDiffusersDdimDefaults()
    {
        var config = SchedulerConfig.FromFile(WriteConfig("{}"));

        Assert.Equal(new SchedulerConfig(), config);
        Assert.Equal(BetaSchedule.Linear, config.BetaSchedule);
        Assert.True(config.ClipSample);
        Assert.True(config.SetAlphaToOne);
        Assert.Equal(0, config.StepsOffset);
    }

    [Fact]
    public void FromFile_UnknownBetaSchedule_ThrowsNamingFileAndKey()
    {
        var path = WriteConfig("""{ "beta_schedule": "sigmoid" }""");

        var error = Assert.Throws<ImagicException>(() => SchedulerConfig.FromFile(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("beta_schedule", error.Message);
    }

    [Fact]
    public void FromFile_MissingFile_ThrowsImagicException()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "scheduler_config.json");

        var error = Assert.Throws<ImagicException>(() => SchedulerConfig.FromFile(path));

        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void FromFile_TrainedBetasOfWrongLength_Throws()
    {
        var path = WriteConfig("""{ "num_train_timesteps": 4, "trained_betas": [0.1, 0.2] }""");

        Assert.Throws<ImagicException>(() => SchedulerConfig.FromFile(path));
    }
}
