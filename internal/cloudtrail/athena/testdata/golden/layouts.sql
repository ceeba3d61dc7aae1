-- keywarden
WHERE "timestamp" >= '2024/06/01' AND "timestamp" <= '2024/06/04' AND account IN ('111122223333') AND region IN ('eu-west-1')

-- aws-projected
WHERE "timestamp" >= '2024/06/01' AND "timestamp" <= '2024/06/04' AND recipientaccountid IN ('111122223333') AND awsregion IN ('eu-west-1')

-- aws-region-date
WHERE "year" >= '2024' AND "year" <= '2024' AND concat("year", '/', "month", '/', "day") >= '2024/06/01' AND concat("year", '/', "month", '/', "day") <= '2024/06/04' AND recipientaccountid IN ('111122223333') AND "region" IN ('eu-west-1')

-- none
WHERE TRUE AND recipientaccountid IN ('111122223333') AND awsregion IN ('eu-west-1')

