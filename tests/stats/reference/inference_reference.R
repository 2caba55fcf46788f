# Reference values for tests/stats/inference_test.cpp. Run: Rscript tests/stats/reference/inference_reference.R
# Produced with R 4.2.2 Patched (2022-11-10 r83330), lme4 1.1-31 and lmerTest 3.1-3 (Debian 12 packages
# r-base-core, r-cran-lme4, r-cran-lmertest). Every number is printed with 17 significant digits.
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
})
p <- function(label, v) cat(sprintf("%-40s %s\n", label, paste(formatC(v, digits = 17, format = "g"), collapse = " ")))
cat(R.version.string, " lme4", format(packageVersion("lme4")), " lmerTest", format(packageVersion("lmerTest")), "\n")

## Mann-Whitney (wilcox.test(x, y), correct = TRUE)
x1 <- c(1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30)
y1 <- c(0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.07, 3.14, 1.28)
w <- wilcox.test(x1, y1); p("mw exact W p", c(w$statistic, w$p.value))
x2 <- c(1, 2, 2, 3, 4, 5, 5, 5, 7)
y2 <- c(2, 3, 3, 4, 6, 6, 8, 9, 9, 10)
w <- suppressWarnings(wilcox.test(x2, y2)); p("mw ties W p", c(w$statistic, w$p.value))
x3 <- sqrt(3 * (1:50))
y3 <- sqrt(3.1 * (1:40)) + 0.7
stopifnot(length(unique(c(x3, y3))) == 90)
w <- wilcox.test(x3, y3); p("mw n1=50 (normal, no ties) W p", c(w$statistic, w$p.value))

## Wilcoxon signed rank (wilcox.test(d))
d1 <- c(1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30) - c(0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29)
w <- wilcox.test(d1); p("sr exact V p", c(w$statistic, w$p.value))
d2 <- c(1.5, -0.5, 2, 0, 2, 3.5, -1, 0, 4, 2.5, -2, 1)
w <- suppressWarnings(wilcox.test(d2)); p("sr ties+zeros V p", c(w$statistic, w$p.value))
d3 <- c(0.3, -1.2, 2.2, 0, 0.9, 1.7, -0.4, 2.9)
w <- suppressWarnings(wilcox.test(d3)); p("sr zero, no ties V p", c(w$statistic, w$p.value))

## Spearman with ties (rho only)
sx <- c(1, 2, 2, 3, 4, 5, 5, 6, 7, 8)
sy <- c(2, 1, 3, 3, 5, 4, 6, 6, 9, 7)
p("spearman rho", suppressWarnings(cor.test(sx, sy, method = "spearman"))$estimate)

## Random-intercept models, fitted three ways: lme4's defaults; nloptwrap with its tolerances tightened; and
## ("root") theta set to the root of the REML criterion's derivative (numDeriv's Richardson gradient of lme4's
## own deviance function, solved by uniroot next to the tight fit's theta), the model then rebuilt there by
## lmer with one evaluation. Where theta is large the criterion is so flat in theta that any optimiser that
## compares function values stops ~1e-8 (relative) short; the root is the optimum itself, which the C++ fit
## finds by Newton's method on the analytic derivative. The tests use the root fit (the tight one where the
## optimum is on the boundary, theta = 0).
tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-16, xtol_rel = 1e-14, ftol_rel = 1e-16,
                                    maxeval = 100000))
root_fit <- function(d, theta) {
  lf <- lFormula(y ~ x + (1 | g), data = d, REML = TRUE)
  devfun <- do.call(mkLmerDevfun, lf)
  gradient <- function(t) numDeriv::grad(devfun, t)
  root <- uniroot(gradient, theta * (1 + c(-1e-5, 1e-5)), tol = 1e-15)$root
  suppressWarnings(lmer(y ~ x + (1 | g), data = d, REML = TRUE, start = list(theta = root),
                        control = lmerControl(optimizer = "nloptwrap", calc.derivs = FALSE,
                                              optCtrl = list(maxeval = 1))))
}
report <- function(name, d) {
  fits <- list(default = lmer(y ~ x + (1 | g), data = d, REML = TRUE),
               tight = lmer(y ~ x + (1 | g), data = d, REML = TRUE, control = tight))
  if (!isSingular(fits$tight)) fits$root <- root_fit(d, getME(fits$tight, "theta"))
  for (label in names(fits)) {
    m <- fits[[label]]
    cf <- summary(m, ddf = "Satterthwaite")$coefficients
    vc <- as.data.frame(VarCorr(m))
    lab <- paste(name, label)
    p(paste(lab, "intercept se"), cf["(Intercept)", c("Estimate", "Std. Error")])
    p(paste(lab, "slope se"), cf["x", c("Estimate", "Std. Error")])
    p(paste(lab, "slope df t p"), cf["x", c("df", "t value", "Pr(>|t|)")])
    p(paste(lab, "group_sd residual_sd"), c(vc$sdcor[vc$grp == "g"], sigma(m)))
    p(paste(lab, "REML criterion"), REMLcrit(m))
    p(paste(lab, "theta singular"), c(getME(m, "theta"), isSingular(m)))
  }
  o <- coef(summary(lm(y ~ x, data = d)))
  p(paste(name, "lm slope se"), o["x", c("Estimate", "Std. Error")])
}
balanced <- data.frame(
  x = c(9.24, 4.66, 1.85, 5.12, 0.94, 8.1, 6.93, 9.65, 6.54, 0.15, 1.9, 2.42, 4.41, 8.42, 5.0,
        2.78, 9.98, 7.08, 3.15, 0.7, 8.47, 3.87, 0.01, 2.1, 9.8, 6.29, 7.79, 3.33, 9.64, 2.46),
  y = c(7.453, 2.998, 2.576, 3.387, 0.802, 8.099, 9.726, 9.356, 6.314, 2.529, 3.664, 5.135, 5.442, 6.218,
        5.415, 3.032, 10.209, 6.503, 4.302, 3.546, 7.2, 7.318, 2.625, 5.336, 8.402, 6.634, 7.247, 5.048,
        8.436, 3.602),
  g = rep(paste0("g", 1:6), each = 5))
report("balanced", balanced)
unbalanced <- data.frame(
  x = c(1.89, 2.84, 2.07, 5.43, 4.14, 4.31, 6.41, 6.68, 8.06, 8.47, 6.14, 8.49, 7.77, 9.25, 8.62, 8.86, 9.22,
        10.1, 10.23, 9.95),
  y = c(12.384, 11.027, 9.563, 8.967, 7.88, 8.768, 6.727, 6.263, 7.484, 7.764, 6.087, 6.589, 6.353, 7.317,
        7.72, 7.742, 7.047, 8.121, 8.429, 7.837),
  g = rep(paste0("f", 1:5), times = c(1, 2, 3, 5, 9)))
report("unbalanced", unbalanced)
# Errors centred within each group: the group means sit on the line, so the group variance is estimated at 0.
sx <- c(1, 2, 3, 4, 2, 3, 5, 6, 1, 4, 5, 7, 3, 4, 6, 8)
se <- c(0.3, -0.5, 0.1, 0.1, -0.2, 0.4, -0.6, 0.4, 0.5, 0.2, -0.4, -0.3, -0.1, 0.3, 0.2, -0.4)
singular <- data.frame(x = sx, y = 1 + 0.5 * sx + se, g = rep(paste0("s", 1:4), each = 4))
report("singular", singular)

## Kolmogorov-Smirnov against U(0, 1): exact below n = 100, the asymptotic limit on request.
u10 <- ((1:10) * 0.618034) %% 1
u10 <- u10^2
k <- ks.test(u10, "punif"); p("ks n=10 D p", c(k$statistic, k$p.value))
u50 <- (((1:50) * 0.7548776662) %% 1)^1.5
k <- ks.test(u50, "punif"); p("ks n=50 D p", c(k$statistic, k$p.value))
u500 <- (((1:500) * 0.5698402910) %% 1)^1.08
k <- ks.test(u500, "punif", exact = FALSE); p("ks n=500 D p", c(k$statistic, k$p.value))
# R's asymptotic series (C_pKS2, tol = 1e-6) keeps one term below sqrt(n) D = 1; the full series:
kolmogorov_sf <- function(x) 2 * sum((-1)^(0:99) * exp(-2 * (1:100)^2 * x^2))
p("ks n=500 sqrt(n)D, full-series p", c(sqrt(500) * k$statistic, kolmogorov_sf(sqrt(500) * k$statistic)))

## Distribution functions
p("pt(-2.5, 3) pt(1.3, 7.5) pt(0.2, 0.7)", c(pt(-2.5, 3), pt(1.3, 7.5), pt(0.2, 0.7)))
p("pt(-40, 12.25) pt(3, 250.5) pt(-1e-3, 4)", c(pt(-40, 12.25), pt(3, 250.5), pt(-1e-3, 4)))
p("pbeta(.3,2,5) pbeta(.9,.5,.5) pbeta(.01,30,.7)", c(pbeta(0.3, 2, 5), pbeta(0.9, 0.5, 0.5), pbeta(0.01, 30, 0.7)))
p("pbeta(.45,400,500) pbeta(.999,2.5,1e-3)", c(pbeta(0.45, 400, 500), pbeta(0.999, 2.5, 1e-3)))
